"""Constants for the Workers AI Speech integration."""

from typing import Final

from wyoming_server.workers_ai import catalog

DOMAIN: Final = "workers_ai_speech"
MANUFACTURER: Final = "Cloudflare"

CONF_ACCOUNT_ID: Final = "account_id"
CONF_API_TOKEN: Final = "api_token"  # noqa: S105 - a config key, not a secret
CONF_API_BASE_URL: Final = "api_base_url"
CONF_MODEL: Final = "model"
CONF_LANGUAGE: Final = "language"
CONF_VOICE: Final = "voice"

DEFAULT_API_BASE_URL: Final = "https://api.cloudflare.com/client/v4"

SUBENTRY_STT: Final = "stt"
SUBENTRY_TTS: Final = "tts"

LANGUAGE_AUTO: Final = "auto"
"""STT subentry language meaning "let the model detect the language"."""

DEFAULT_STT_MODEL: Final = catalog.NOVA_3
DEFAULT_TTS_MODEL: Final = catalog.AURA_2_EN
DEFAULT_TTS_VOICE: Final = "luna"

STT_SAMPLE_RATE: Final = 16000
"""Hz. What the Assist pipeline and satellites send (home-assistant-2026.10.md §1.3)."""

TTS_WEBSOCKET_SAMPLE_RATE: Final = 24000
"""Hz. Aura WebSocket default linear16 rate (workers-ai-speech-api.md §5.4)."""

SIGNAL_VOICE_SELECTED: Final = f"{DOMAIN}_voice_selected_{{}}"
"""Dispatcher signal, formatted with a TTS subentry ID; payload: the selected voice."""
