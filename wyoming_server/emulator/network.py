"""A network like the real one: the ``rtt_ms`` fault's round trips.

- Every HTTP request (REST call, WebSocket handshake, models search) is answered one RTT later,
  and three RTTs later when it is the first request of its connection: TCP's handshake and TLS
  1.3's handshake each cost one round trip more
  (https://developers.cloudflare.com/fundamentals/reference/tcp-connections/ ,
  https://www.rfc-editor.org/rfc/rfc8446#section-2).
- Every WebSocket message the emulator sends goes out one RTT after it was produced
  (:class:`~.context.ServerSocket`): the client's message or audio needed half a round trip to
  arrive and the answer needs the other half.

Connections are told apart by their transport object, held weakly.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from .faults import Faults

NEW_CONNECTION_ROUND_TRIPS: Final = 2
"""Extra round trips before the first request of a connection (TCP + TLS 1.3)."""

_known: weakref.WeakSet[asyncio.BaseTransport] = weakref.WeakSet()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def request_delay(request: web.BaseRequest, rtt_ms: float) -> float:
    """Seconds before ``request`` is answered: one RTT, plus the handshakes of a new connection."""
    if rtt_ms <= 0:
        return 0.0
    round_trips = 1
    transport = request.transport
    if transport is not None and transport not in _known:
        _known.add(transport)
        round_trips += NEW_CONNECTION_ROUND_TRIPS
    return round_trips * rtt_ms / 1000


def middleware(get_faults: Callable[[web.Request], Faults], skip_prefix: str) -> Middleware:
    """An aiohttp middleware applying :func:`request_delay` to every request outside
    ``skip_prefix`` (the emulator's own control API)."""

    @web.middleware
    async def network(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(skip_prefix):
            delay = request_delay(request, get_faults(request).rtt_ms)
            if delay:
                await asyncio.sleep(delay)
        return await handler(request)

    return network
