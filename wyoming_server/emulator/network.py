"""A network like the real one: the ``rtt_ms`` fault's round trips.

- Every HTTP request (REST call, WebSocket handshake, models search) is answered one RTT later,
  and three RTTs later when it is the first request of its connection: TCP's handshake and TLS
  1.3's handshake each cost one round trip more
  (https://developers.cloudflare.com/fundamentals/reference/tcp-connections/ ,
  https://www.rfc-editor.org/rfc/rfc8446#section-2).
- Every WebSocket message the emulator sends goes out one RTT after it was produced
  (:class:`~.context.ServerSocket`): the client's message or audio needed half a round trip to
  arrive and the answer needs the other half.

Connections are told apart by their transport object, held weakly. ``GET
/__emulator__/network`` tells tests which calls paid for a new connection.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from .auth import check_token
from .context import EmulatorContext
from .errors import success_envelope

NEW_CONNECTION_ROUND_TRIPS: Final = 2
"""Extra round trips before the first request of a connection (TCP + TLS 1.3)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class NetworkStats:
    """What the network saw: connections, and Workers AI calls on new or reused ones.

    ``rest_calls_on_new_connections`` counts REST runs (POST) that paid the TCP and TLS
    handshakes, ``rest_calls_on_reused_connections`` those that did not; the same for WebSocket
    handshakes (``websockets_on_...``).
    """

    connections: int = 0
    requests: int = 0
    rest_calls_on_new_connections: int = 0
    rest_calls_on_reused_connections: int = 0
    websockets_on_new_connections: int = 0
    websockets_on_reused_connections: int = 0
    _known: weakref.WeakSet[asyncio.BaseTransport] = field(
        default_factory=weakref.WeakSet, repr=False
    )

    def seen(self, request: web.BaseRequest) -> bool:
        """Count ``request``; True when its connection is new."""
        self.requests += 1
        transport = request.transport
        new = transport is not None and transport not in self._known
        if new:
            assert transport is not None
            self._known.add(transport)
            self.connections += 1
        if "/ai/run/" in request.path:
            kind = "rest_calls" if request.method == "POST" else "websockets"
            name = f"{kind}_on_{'new' if new else 'reused'}_connections"
            setattr(self, name, getattr(self, name) + 1)
        return new

    def snapshot(self) -> dict[str, int]:
        """The counters as JSON-able data."""
        return {
            "connections": self.connections,
            "requests": self.requests,
            "rest_calls_on_new_connections": self.rest_calls_on_new_connections,
            "rest_calls_on_reused_connections": self.rest_calls_on_reused_connections,
            "websockets_on_new_connections": self.websockets_on_new_connections,
            "websockets_on_reused_connections": self.websockets_on_reused_connections,
        }


def request_delay(new_connection: bool, rtt_ms: float) -> float:
    """Seconds before a request is answered: one RTT, plus the handshakes of a new connection."""
    if rtt_ms <= 0:
        return 0.0
    round_trips = 1 + (NEW_CONNECTION_ROUND_TRIPS if new_connection else 0)
    return round_trips * rtt_ms / 1000


def install(
    app: web.Application,
    get_context: Callable[[web.Request], EmulatorContext],
    control_prefix: str,
) -> None:
    """Add the ``rtt_ms`` middleware (first) and ``GET {control_prefix}/network`` (the
    :class:`NetworkStats` plus ``open_websockets``, a count per model ID; needs the emulator's
    token) to ``app``.
    Call before the catch-all route is added."""
    stats = NetworkStats()

    @web.middleware
    async def network(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(control_prefix):
            new = stats.seen(request)
            delay = request_delay(new, get_context(request).faults.rtt_ms)
            if delay:
                await asyncio.sleep(delay)
        return await handler(request)

    async def network_stats(request: web.Request) -> web.StreamResponse:
        context = get_context(request)
        check_token(request, context.config.api_token)
        models = Counter(s.request.match_info.get("model", "?") for s in context.sessions)
        result = {**stats.snapshot(), "open_websockets": dict(models)}
        return web.json_response(success_envelope(result))

    app.middlewares.insert(0, network)
    app.router.add_get(f"{control_prefix}/network", network_stats)
