"""Emulator settings and their documented defaults."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ACCOUNT_ID = "023e105f4ecef8ad9ca31a8372d0c353"
"""The emulator's account ID (32 hex digits, Cloudflare's own OpenAPI example ID)."""
DEFAULT_API_TOKEN = "workers-ai-emulator-local-token-00000000"  # noqa: S105 - documented
"""The emulator's API token (40 characters like a Cloudflare API token). Local use only."""
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
"""Default TCP port of the standalone emulator (``wrangler dev``'s port)."""
DEFAULT_MAX_REQUEST_BYTES = 25 * 1024 * 1024
"""Largest accepted request body in bytes; larger → 413 / 3006
(https://developers.cloudflare.com/workers-ai/platform/errors/)."""
DEFAULT_WS_IDLE_TIMEOUT_S = 10.0
"""Seconds without audio or a control message before a Deepgram-style WebSocket is closed with
1011 ``NET-0001`` (Deepgram: https://developers.deepgram.com/docs/lower-level-websockets)."""
DEFAULT_SPEAK_IDLE_TIMEOUT_S: float | None = None
"""Seconds without a client message (and no flush being spoken) before an aura (speak v1)
WebSocket is closed with 1011 ``NET-0001``; None = never. Deepgram documents no idle timeout
and no ``KeepAlive`` for speak v1: its messages are ``Speak``, ``Flush``, ``Clear``, ``Close``
(https://developers.deepgram.com/docs/tts-websocket,
https://github.com/deepgram/deepgram-python-sdk/tree/main/src/deepgram/speak/v1), and the
only documented limit is 60 minutes per connection
(https://developers.deepgram.com/docs/streaming-text-to-speech#timeout-limits). Whether Workers
AI adds one is unknown, so the default follows the documentation and tests set one to exercise
a client's reopen path."""
CONTROL_PREFIX = "/__emulator__"
"""Path prefix of the emulator's own control API (cannot collide with ``/client/v4``)."""


@dataclass(frozen=True)
class EmulatorConfig:
    """What one emulator instance answers to.

    ``max_request_bytes`` in bytes; ``ws_idle_timeout_s`` and ``speak_idle_timeout_s`` in
    seconds.
    """

    account_id: str = DEFAULT_ACCOUNT_ID
    api_token: str = DEFAULT_API_TOKEN
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    ws_idle_timeout_s: float = DEFAULT_WS_IDLE_TIMEOUT_S
    speak_idle_timeout_s: float | None = DEFAULT_SPEAK_IDLE_TIMEOUT_S
