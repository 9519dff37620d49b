"""What the listen and speak WebSocket sessions share: neurons, close reasons, timeouts."""

from __future__ import annotations

from typing import Final

import aiohttp

from .results import parse_neurons

CLOSE_TIMEOUT: Final = 1.0
"""Seconds ``aclose`` waits for the closing handshake before dropping the connection."""

CLOSED: Final = object()
"""Queued by a session's reader when the WebSocket closed."""


def neurons_of(ws: aiohttp.ClientWebSocketResponse) -> float | None:
    """``cf-ai-neurons`` of the WebSocket handshake response, if it had one."""
    response = getattr(ws, "_response", None)
    headers = getattr(response, "headers", None)
    return parse_neurons(headers.get("cf-ai-neurons") if headers is not None else None)


def close_reason(ws: aiohttp.ClientWebSocketResponse) -> str:
    """How the WebSocket ended, for an error message (close code, exception)."""
    code = ws.close_code
    exc = ws.exception()
    parts = []
    if code is not None:
        parts.append(f"close code {code}")
    if exc is not None:
        parts.append(f"{type(exc).__name__}: {exc}")
    return ", ".join(parts) or "connection closed"
