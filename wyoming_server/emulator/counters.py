"""Count the model calls that reach the emulator, for tests and the fault matrix.

Every ``/ai/run/{model}`` request is counted when it arrives (before authentication and fault
injection), by model and transport (``rest`` for a POST, ``websocket`` for an upgrade).
``GET /__emulator__/requests`` (emulator token required) answers the counts; ``DELETE`` answers
them and starts again from zero. The query of each WebSocket handshake is kept too (the last
:data:`MAX_HANDSHAKES`), so tests can see what a client asked for:
``GET``/``DELETE /__emulator__/handshakes`` answers ``[{"model": ..., "query": {key: [values]}}]``.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .auth import check_token
from .config import CONTROL_PREFIX
from .errors import success_envelope

_RUN_MARK = "/ai/run/"
MAX_HANDSHAKES = 256
"""WebSocket handshakes remembered (the oldest are dropped)."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RequestCounter:
    """Model calls seen so far: ``{"rest": {model: n}, "websocket": {model: n}}``."""

    def __init__(self, api_token: str) -> None:
        """``api_token`` guards the counts endpoint like the fault control API."""
        self._api_token = api_token
        self.rest: Counter[str] = Counter()
        self.websocket: Counter[str] = Counter()
        self.handshakes: deque[dict[str, Any]] = deque(maxlen=MAX_HANDSHAKES)

    def snapshot(self) -> dict[str, dict[str, int]]:
        """The counts as JSON-able data."""
        return {"rest": dict(self.rest), "websocket": dict(self.websocket)}

    def reset(self) -> None:
        """Start counting from zero."""
        self.rest.clear()
        self.websocket.clear()
        self.handshakes.clear()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count model calls; answer ``/__emulator__/requests``."""
        path = request.path
        if path == f"{CONTROL_PREFIX}/requests" and request.method in ("GET", "DELETE"):
            check_token(request, self._api_token)
            counts = self.snapshot()
            if request.method == "DELETE":
                self.reset()
            return web.json_response(success_envelope(counts))
        if path == f"{CONTROL_PREFIX}/handshakes" and request.method in ("GET", "DELETE"):
            check_token(request, self._api_token)
            handshakes = list(self.handshakes)
            if request.method == "DELETE":
                self.handshakes.clear()
            return web.json_response(success_envelope(handshakes))
        if _RUN_MARK in path:
            model = path.split(_RUN_MARK, 1)[1]
            if request.headers.get("Upgrade", "").lower() == "websocket":
                self.websocket[model] += 1
                query = {key: request.query.getall(key) for key in request.query}
                self.handshakes.append({"model": model, "query": query})
            elif request.method == "POST":
                self.rest[model] += 1
        return await handler(request)
