"""Constants for the Workers AI Speech integration."""

from typing import Final

from wyoming_server.workers_ai import catalog, transport

DOMAIN: Final = "workers_ai_speech"
MANUFACTURER: Final = "Cloudflare"

CONF_ACCOUNT_ID: Final = "account_id"
CONF_API_BASE_URL: Final = "api_base_url"
CONF_GATEWAY_TOKEN: Final = "gateway_token"  # noqa: S105 - a config key, not a secret
CONF_ADVANCED: Final = "advanced"
"""Config flow section holding the API base URL and the AI Gateway token."""
CONF_VOICE: Final = "voice"

DEFAULT_API_BASE_URL: Final = transport.DEFAULT_API_BASE_URL

SUBENTRY_STT: Final = "stt"
SUBENTRY_TTS: Final = "tts"

LANGUAGE_AUTO: Final = "auto"
"""STT subentry language meaning "let the model detect the language"."""

DEFAULT_STT_MODEL: Final = catalog.NOVA_3
"""The default STT model for a household whose language nova-3 does not speak."""
DEFAULT_TTS_MODEL: Final = catalog.AURA_2_EN

VOICE_FOLLOW_SELECT: Final = "follow_select"
"""Voice ID meaning "the voice select's current option", resolved at synthesis time.

Listed first, so a pipeline created with default settings stores it and follows the select."""

ATTR_SELECTED_VOICE: Final = "selected_voice"
"""Default TTS option carrying the select's voice: Home Assistant's TTS cache key is built
from the merged options, so a new selection is synthesized, not replayed
(https://github.com/home-assistant/core/blob/dev/homeassistant/components/tts/__init__.py)."""

STT_SAMPLE_RATE: Final = catalog.STT_SAMPLE_RATE_HZ
"""Hz. What the Assist pipeline and satellites send, and what the models are given."""

TTS_WEBSOCKET_SAMPLE_RATE: Final = catalog.AURA_WEBSOCKET_SAMPLE_RATE_HZ
"""Hz. Aura WebSocket linear16 rate when Home Assistant asks for none."""

CONNECT_TIMEOUT: Final = 3.0
"""Seconds to open a connection or WebSocket to Workers AI (voice path)."""
REQUEST_TIMEOUT: Final = 8.0
"""Seconds one Workers AI request may take on the voice path."""
DEADLINE: Final = 10.0
"""Seconds a voice request may take in all, retries included."""
LONG_TEXT_REQUEST_TIMEOUT: Final = 30.0
LONG_TEXT_DEADLINE: Final = 60.0
"""Seconds per request / in all for a message longer than one TTS request takes (an
announcement, spoken in several requests): synthesis time grows with the text."""

ISSUE_QUOTA_EXCEEDED: Final = "quota_exceeded"
ISSUE_UNKNOWN_MODEL: Final = "unknown_model_{}"
"""Repair issue ID for a subentry (formatted with its ID) whose model is not in the catalog."""

SIGNAL_VOICE_CHANGED: Final = f"{DOMAIN}_voice_changed_{{}}"
"""Dispatcher signal, formatted with a TTS subentry ID: its stored voice changed."""
