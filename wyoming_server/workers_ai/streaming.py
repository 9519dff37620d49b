"""Workers AI WebSocket sessions: streaming speech-to-text and text-to-speech.

- :mod:`.listen`: nova-3 (Deepgram listen v1) and flux (listen v2) sessions;
- :mod:`.speak`: aura sessions (Deepgram speak v1, at most 20 ``Flush`` per minute);
- :mod:`.session_common`: what both share.

This module keeps the names importable from where they always were.
"""

from __future__ import annotations

from .listen import (
    FINISH_TIMEOUT,
    FRAME_MS,
    KEEPALIVE_AFTER,
    FluxSession,
    ListenSession,
    Nova3Session,
    connect_listen,
)
from .results import parse_neurons
from .session_common import CLOSE_TIMEOUT, neurons_of
from .speak import FLUSH_LIMIT, FLUSH_WINDOW, RECEIVE_TIMEOUT, SpeakSession, connect_speak

__all__ = [
    "CLOSE_TIMEOUT",
    "FINISH_TIMEOUT",
    "FLUSH_LIMIT",
    "FLUSH_WINDOW",
    "FRAME_MS",
    "KEEPALIVE_AFTER",
    "RECEIVE_TIMEOUT",
    "FluxSession",
    "ListenSession",
    "Nova3Session",
    "SpeakSession",
    "connect_listen",
    "connect_speak",
    "neurons_of",
    "parse_neurons",
]
