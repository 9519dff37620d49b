"""Config flow for Workers AI Speech: the account, plus STT and TTS service subentries."""

import ipaddress
import logging
from collections.abc import Mapping
from typing import Any, override

import probatio
from yarl import URL

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryData,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.const import CONF_API_TOKEN
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from wyoming_server.workers_ai import catalog
from wyoming_server.workers_ai.errors import (
    AccountNotFoundError,
    AuthenticationError,
    ConnectionFailedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    WorkersAIError,
)

from . import create_client
from .const import (
    CONF_ACCOUNT_ID,
    CONF_ADVANCED,
    CONF_API_BASE_URL,
    CONF_GATEWAY_TOKEN,
    DEFAULT_API_BASE_URL,
    DEFAULT_STT_MODEL,
    DEFAULT_TTS_MODEL,
    DOMAIN,
    SUBENTRY_STT,
    SUBENTRY_TTS,
)
from .languages import speaks
from .options_flow import WorkersAIOptionsFlow
from .subentry_flow import (
    SttSubentryFlow,
    TtsSubentryFlow,
    clean,
    default_title,
    household_model,
    service_data,
)

_LOGGER = logging.getLogger(__name__)

GATEWAY_URL_EXAMPLE = "https://gateway.ai.cloudflare.com/v1/ACCOUNT_ID/GATEWAY/workers-ai"

_TOKEN_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))

_ADVANCED_SECTION = section(
    probatio.Schema(
        {
            probatio.Optional(CONF_API_BASE_URL): _URL_SELECTOR,
            probatio.Optional(CONF_GATEWAY_TOKEN): _TOKEN_SELECTOR,
        }
    ),
    {"collapsed": True},
)
STEP_USER_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_ACCOUNT_ID): TextSelector(),
        probatio.Required(CONF_API_TOKEN): _TOKEN_SELECTOR,
        probatio.Required(CONF_ADVANCED): _ADVANCED_SECTION,
    }
)
STEP_REAUTH_SCHEMA = probatio.Schema({probatio.Required(CONF_API_TOKEN): _TOKEN_SELECTOR})
STEP_RECONFIGURE_SCHEMA = probatio.Schema(
    {
        probatio.Optional(CONF_API_TOKEN): _TOKEN_SELECTOR,
        probatio.Required(CONF_ADVANCED): _ADVANCED_SECTION,
    }
)

# Errors that mean "Workers AI could not be reached right now" rather than "wrong settings".
_UNREACHABLE = (ConnectionFailedError, RequestTimeoutError, ServerError, RateLimitError)


def _entry_data(
    account_id: str, api_token: str, advanced: Mapping[str, Any], old: Mapping[str, Any]
) -> dict[str, str]:
    """Build the entry data from the form.

    A base URL only if not the default (no trailing slash); the gateway token only with a
    gateway URL (an empty field keeps the stored one).
    """
    data = {CONF_ACCOUNT_ID: account_id, CONF_API_TOKEN: api_token}
    base_url = clean(advanced.get(CONF_API_BASE_URL)).rstrip("/")
    if base_url and base_url != DEFAULT_API_BASE_URL:
        data[CONF_API_BASE_URL] = base_url
    gateway_token = clean(advanced.get(CONF_GATEWAY_TOKEN)) or clean(old.get(CONF_GATEWAY_TOKEN))
    if gateway_token and base_url.endswith("/workers-ai"):
        data[CONF_GATEWAY_TOKEN] = gateway_token
    return data


def valid_base_url(base_url: str) -> bool:
    """True for an ``https`` URL, or ``http`` to a loopback host (a local emulator)."""
    try:
        url = URL(base_url)
    except ValueError:
        return False
    if not url.host or not url.absolute:
        return False
    if url.scheme == "https":
        return True
    if url.scheme != "http":
        return False
    if url.host == "localhost":
        return True
    try:
        return ipaddress.ip_address(url.host).is_loopback
    except ValueError:
        return False


async def _async_validate(
    hass: HomeAssistant, data: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Check the credentials with a real Workers AI call (``client.verify()``).

    Returns the form errors (empty when valid) and their description placeholders.
    """
    if not valid_base_url(data.get(CONF_API_BASE_URL, DEFAULT_API_BASE_URL)):
        return {CONF_ADVANCED: "invalid_url"}, {}
    try:
        await create_client(hass, dict(data)).verify()
    except AuthenticationError:
        return {"base": "invalid_auth"}, {}
    except AccountNotFoundError:
        return {CONF_ACCOUNT_ID: "invalid_account"}, {}
    except _UNREACHABLE as err:
        _LOGGER.debug("Workers AI not reachable: %s", err)
        return {"base": "cannot_connect"}, {}
    except WorkersAIError as err:
        return {"base": "api_error"}, {"error": str(err)}
    except Exception:
        _LOGGER.exception("Unexpected error while checking the Workers AI credentials")
        return {"base": "unknown"}, {}
    return {}, {}


def _default_subentry(
    hass: HomeAssistant, subentry_type: str, model: catalog.SpeechModel
) -> ConfigSubentryData:
    return {
        "subentry_type": subentry_type,
        "title": default_title(model),
        "data": service_data(hass, subentry_type, model, {}),
        "unique_id": None,
    }


def default_stt_subentry(hass: HomeAssistant) -> ConfigSubentryData:
    """Choose the speech-to-text service of a new entry.

    nova-3 (streaming), or Whisper large v3 turbo for a language nova-3 lacks; in Home
    Assistant's language.
    """
    nova = catalog.get_model(DEFAULT_STT_MODEL)
    model = nova if speaks(nova, hass) else catalog.get_model(catalog.STT_FALLBACK_MODEL)
    return _default_subentry(hass, SUBENTRY_STT, model)


def default_tts_subentry(hass: HomeAssistant) -> ConfigSubentryData:
    """Choose the text-to-speech service of a new entry.

    The first model speaking Home Assistant's language, preferring Aura 2 English.
    """
    model = household_model(hass, catalog.TTS_MODELS, DEFAULT_TTS_MODEL)
    return _default_subentry(hass, SUBENTRY_TTS, model)


class WorkersAIConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a Cloudflare account for Workers AI speech models."""

    VERSION = 1
    MINOR_VERSION = 2

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the account ID and API token; base URL and gateway token are advanced."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            account_id = clean(user_input[CONF_ACCOUNT_ID])
            data = _entry_data(
                account_id,
                clean(user_input[CONF_API_TOKEN]),
                user_input.get(CONF_ADVANCED, {}),
                {},
            )
            await self.async_set_unique_id(account_id)
            self._abort_if_unique_id_configured()
            errors, placeholders = await _async_validate(self.hass, data)
            if not errors:
                return self.async_create_entry(
                    title=f"Workers AI {account_id[:8]}",
                    data=data,
                    subentries=[
                        default_stt_subentry(self.hass),
                        default_tts_subentry(self.hass),
                    ],
                )
        suggested = {k: v for k, v in (user_input or {}).items() if k != CONF_API_TOKEN}
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(STEP_USER_SCHEMA, suggested),
            errors=errors,
            description_placeholders={
                "default_url": DEFAULT_API_BASE_URL,
                "gateway_url": GATEWAY_URL_EXAMPLE,
                **placeholders,
            },
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start re-authentication after Workers AI rejected the API token."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new API token for the same account."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        placeholders = {"account_id": entry.data[CONF_ACCOUNT_ID]}
        if user_input is not None:
            data = {**entry.data, CONF_API_TOKEN: clean(user_input[CONF_API_TOKEN])}
            errors, extra = await _async_validate(self.hass, data)
            # The form has only the token field: show other fields' errors form-wide.
            errors = {"base": next(iter(errors.values()))} if errors else {}
            placeholders.update(extra)
            if not errors:
                return self._async_update(entry, data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=STEP_REAUTH_SCHEMA,
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the API token, the API base URL or the gateway token of an entry.

        The account ID (the entry's unique ID) is shown, not editable; the stored tokens are
        never sent to the browser: an empty token field keeps the stored token.
        """
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = _entry_data(
                entry.data[CONF_ACCOUNT_ID],
                clean(user_input.get(CONF_API_TOKEN)) or entry.data[CONF_API_TOKEN],
                user_input.get(CONF_ADVANCED, {}),
                entry.data,
            )
            errors, placeholders = await _async_validate(self.hass, data)
            if not errors:
                return self._async_update(entry, data)
        suggested = {
            CONF_ADVANCED: {
                CONF_API_BASE_URL: (user_input or {})
                .get(CONF_ADVANCED, {})
                .get(CONF_API_BASE_URL, entry.data.get(CONF_API_BASE_URL, ""))
            }
        }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(STEP_RECONFIGURE_SCHEMA, suggested),
            errors=errors,
            description_placeholders={
                "default_url": DEFAULT_API_BASE_URL,
                "gateway_url": GATEWAY_URL_EXAMPLE,
                "account_id": entry.data[CONF_ACCOUNT_ID],
                **placeholders,
            },
        )

    def _async_update(self, entry: ConfigEntry, data: dict[str, str]) -> ConfigFlowResult:
        """Store new data and reload the entry.

        A loaded entry's update listener (added in async_setup_entry) reloads it; any other
        entry is reloaded here so that the new token gets a try.
        """
        if entry.state is ConfigEntryState.LOADED:
            return self.async_update_and_abort(entry, data=data)
        return self.async_update_reload_and_abort(entry, data=data)

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Vocabulary and daily budget (options_flow.py)."""
        return WorkersAIOptionsFlow()

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Speech-to-text and text-to-speech services are subentries."""
        return {SUBENTRY_STT: SttSubentryFlow, SUBENTRY_TTS: TtsSubentryFlow}
