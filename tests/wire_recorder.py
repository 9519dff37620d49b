"""A recording reverse proxy for Workers AI traffic, independent of the emulator.

:class:`WireRecorder` listens on a loopback port in a thread of its own (so one instance serves
tests on any event loop, Home Assistant's included) and forwards every request to an upstream
``/client/v4`` root (the emulator), REST and WebSocket alike. It records what the client put on
the wire: method, path, query parameters, headers, the REST body, and for a WebSocket every
message the client sent (text as parsed JSON, binary as its byte count) with the number of
audio bytes sent before it.

Tests compare these records with the documented shapes (Cloudflare's and Deepgram's public
docs), so a parameter the emulator happens to tolerate (a missing ``language``, ``keyterm`` or
flux threshold, a missing ``Finalize``) still fails a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

_FORWARDED_HEADERS = ("Authorization", "Content-Type", "cf-aig-authorization")
_RETURNED_HEADERS = ("Content-Type", "Retry-After", "cf-ai-neurons")


@dataclass
class Exchange:
    """One request as the client sent it."""

    method: str
    path: str
    """The path without the query, not percent-decoded (``/client/v4/accounts/…/@cf/…``)."""
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes = b""
    websocket: bool = False
    status: int | None = None
    """The upstream's HTTP status (101 for an accepted WebSocket)."""
    messages: list[Any] = field(default_factory=list)
    """WebSocket messages from the client: parsed JSON for text, ``int`` byte counts for binary."""
    audio_bytes: int = 0
    """Binary bytes the client sent over the WebSocket so far."""
    replies: list[Any] = field(default_factory=list)
    """WebSocket messages from the upstream, like :attr:`messages`."""

    @property
    def model(self) -> str:
        """The model ID of a ``/ai/run/{model}`` path."""
        return self.path.split("/ai/run/", 1)[1]

    def param(self, name: str) -> str | None:
        """The (first) value of query parameter ``name``."""
        return next((v for k, v in self.query if k == name), None)

    def params(self, name: str) -> list[str]:
        """Every value of the repeatable query parameter ``name``."""
        return [v for k, v in self.query if k == name]

    @property
    def controls(self) -> list[str]:
        """The ``type`` of each JSON control message the client sent, in order."""
        return [m.get("type") for m in self.messages if isinstance(m, dict)]

    def json(self) -> Any:
        """The REST body parsed as JSON."""
        return json.loads(self.body)


class WireRecorder:
    """A thread-hosted recording proxy in front of ``upstream`` (a ``…/client/v4`` URL).

    ``latency`` adds seconds before each REST answer and each WebSocket handshake.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = URL(upstream)
        self.exchanges: list[Exchange] = []
        self.latency = 0.0
        self._canned: list[tuple[int, bytes, str]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ready = threading.Event()
        self.port = 0

    @property
    def base_url(self) -> str:
        """The proxy's ``/client/v4`` root (give this to the client instead of the upstream)."""
        return f"http://127.0.0.1:{self.port}{self.upstream.path}"

    def clear(self) -> None:
        """Forget what was recorded and any canned answer not yet served."""
        self.exchanges.clear()
        self._canned.clear()

    def answer_next(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        """Answer the next request (REST, or a WebSocket handshake) with this instead of
        forwarding it: an answer the emulator cannot give (e.g. a 403 without error code)."""
        self._canned.append((status, body, content_type))

    def runs(self, model: str | None = None) -> list[Exchange]:
        """The recorded ``/ai/run/`` requests, optionally only those of ``model``."""
        found = [e for e in self.exchanges if "/ai/run/" in e.path]
        return [e for e in found if model is None or e.model == model]

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> WireRecorder:
        """Start the proxy thread and wait until it listens."""
        self._thread = threading.Thread(target=self._run, name="wire-recorder", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("wire recorder did not start")
        return self

    def stop(self) -> None:
        """Stop the proxy and its thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.run_until_complete(self._start())
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._cleanup())
            loop.close()

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # ------------------------------------------------------------------ forwarding

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        is_ws = request.headers.get("Upgrade", "").lower() == "websocket"
        exchange = Exchange(
            method=request.method,
            path=request.raw_path.split("?")[0],
            query=list(request.query.items()),
            headers=dict(request.headers),
            websocket=is_ws,
        )
        self.exchanges.append(exchange)
        target = self.upstream.with_path(exchange.path, encoded=True).with_query(exchange.query)
        headers = {k: request.headers[k] for k in _FORWARDED_HEADERS if k in request.headers}
        if self.latency:
            await asyncio.sleep(self.latency)
        if self._canned:
            status, body, content_type = self._canned.pop(0)
            exchange.status = status
            return web.Response(status=status, body=body, content_type=content_type)
        if is_ws:
            return await self._websocket(request, exchange, target, headers)
        exchange.body = await request.read()
        assert self._session is not None
        async with self._session.request(
            request.method, target, data=exchange.body or None, headers=headers
        ) as upstream:
            payload = await upstream.read()
            exchange.status = upstream.status
            returned = {k: upstream.headers[k] for k in _RETURNED_HEADERS if k in upstream.headers}
            return web.Response(status=upstream.status, body=payload, headers=returned)

    async def _websocket(
        self, request: web.Request, exchange: Exchange, target: URL, headers: dict[str, str]
    ) -> web.StreamResponse:
        assert self._session is not None
        try:
            upstream = await self._session.ws_connect(target, headers=headers, autoping=True)
        except aiohttp.WSServerHandshakeError as err:
            exchange.status = err.status
            return web.json_response(
                {"success": False, "errors": [{"message": err.message}]}, status=err.status
            )
        exchange.status = 101
        downstream = web.WebSocketResponse(autoping=True, max_msg_size=64 * 1024 * 1024)
        await downstream.prepare(request)

        async def client_to_upstream() -> None:
            async for msg in downstream:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    try:
                        exchange.messages.append(json.loads(msg.data))
                    except ValueError:
                        exchange.messages.append(msg.data)
                    await upstream.send_str(msg.data)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    exchange.messages.append(len(msg.data))
                    exchange.audio_bytes += len(msg.data)
                    await upstream.send_bytes(msg.data)
            await upstream.close()

        async def upstream_to_client() -> None:
            async for msg in upstream:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    with contextlib.suppress(ValueError):
                        exchange.replies.append(json.loads(msg.data))
                    await downstream.send_str(msg.data)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    exchange.replies.append(len(msg.data))
                    await downstream.send_bytes(msg.data)
            code = upstream.close_code
            if code == aiohttp.WSCloseCode.ABNORMAL_CLOSURE and request.transport is not None:
                request.transport.abort()  # the upstream dropped: drop the client too
                return
            # A close without a status (1005, or none) is passed on as a normal close.
            sendable = code is not None and (1000 <= code <= 1011 or 3000 <= code < 5000)
            await downstream.close(code=code if sendable and code != 1005 else 1000)

        tasks = [
            asyncio.create_task(client_to_upstream()),
            asyncio.create_task(upstream_to_client()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            await asyncio.wait(tasks, timeout=5)
        finally:
            for task in tasks:
                task.cancel()
            await upstream.close()
        return downstream
