#!/usr/bin/with-contenv bashio
# Start the server with the add-on's options, then tell Home Assistant about it (discovery).
set -euo pipefail

account_id="$(bashio::config 'account_id')"
api_token="$(bashio::config 'api_token')"
if [ -z "${account_id}" ] || [ -z "${api_token}" ]; then
  bashio::exit.nok "Set the Cloudflare account ID and API token in the add-on's configuration"
fi
export CLOUDFLARE_ACCOUNT_ID="${account_id}"
export CLOUDFLARE_API_TOKEN="${api_token}"

flags=()
if bashio::config.true 'debug_logging'; then
  flags+=(--debug)
fi

wyoming-workers-ai \
  --uri tcp://0.0.0.0:10300 \
  --stt-model "$(bashio::config 'stt_model')" \
  --tts-voice "$(bashio::config 'tts_voice')" \
  --language "$(bashio::config 'language')" \
  "${flags[@]}" &
server=$!
trap 'kill -TERM "${server}" 2>/dev/null; wait "${server}"' TERM INT

# Discovery once the server answers describe: Home Assistant then offers the Wyoming integration.
if wyoming-workers-ai-healthcheck --uri tcp://127.0.0.1:10300 --wait 30; then
  if bashio::discovery "wyoming" "$(bashio::var.json uri "tcp://$(hostname):10300")" >/dev/null; then
    bashio::log.info "Sent discovery information to Home Assistant"
  else
    bashio::log.warning "Could not send discovery information to Home Assistant"
  fi
fi
wait "${server}"
