"""What every request handler gets: settings, faults, request body reading and WebSocket sending
with the fault hooks (upload throttling, dropped WebSockets) applied."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .config import EmulatorConfig
from .errors import length_required, request_too_large
from .faults import Faults

_LOGGER = logging.getLogger(__name__)
_READ_CHUNK_BYTES = 64 * 1024


@dataclass
class EmulatorContext:
    """One emulator's configuration and live fault settings."""

    config: EmulatorConfig
    faults: Faults
    sessions: set[ServerSocket] = field(default_factory=set)

    async def close_sessions(self) -> None:
        """Close every open WebSocket with 1001 (going away), e.g. at shutdown."""
        for session in list(self.sessions):
            try:
                await session.close(1001, "emulator shutting down")
            except (ConnectionError, RuntimeError):
                session.drop()


class Pacer:
    """Delays a consumer so data is taken at most at ``bytes_per_second`` on average.

    Used for the ``upload_bytes_per_second`` fault: the emulator reads request bodies and
    WebSocket audio no faster than the configured rate (bytes per second).
    """

    def __init__(self, bytes_per_second: float | None) -> None:
        self._rate = bytes_per_second
        self._start = time.monotonic()
        self._bytes = 0

    async def consume(self, count: int) -> None:
        """Account for ``count`` bytes; sleep until they are "received" at the configured rate."""
        if not self._rate:
            return
        self._bytes += count
        due = self._start + self._bytes / self._rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def read_body(request: web.Request, context: EmulatorContext) -> bytes:
    """Read a request body the way the emulator's Cloudflare edge accepts it.

    Raises :class:`~.errors.CloudflareError` 411/3003 for a body without ``Content-Length``
    (chunked transfer encoding: Workers AI documents none), 413/3006 above
    ``config.max_request_bytes``. Throttled by the ``upload_bytes_per_second`` fault.
    """
    check_body_headers(request, context)
    length = request.content_length or 0
    if length == 0:
        return b""
    pacer = Pacer(context.faults.upload_bytes_per_second)
    chunks: list[bytes] = []
    received = 0
    while received < length:
        chunk = await request.content.read(min(_chunk_size(context), length - received))
        if not chunk:
            break
        received += len(chunk)
        chunks.append(chunk)
        await pacer.consume(len(chunk))
    return b"".join(chunks)


def check_body_headers(request: web.Request, context: EmulatorContext) -> None:
    """Reject a chunked body (411/3003) or a too large ``Content-Length`` (413/3006)."""
    if request.content_length is None and (
        request.method == "POST" or "Transfer-Encoding" in request.headers
    ):
        raise length_required()
    if (request.content_length or 0) > context.config.max_request_bytes:
        raise request_too_large()


def _chunk_size(context: EmulatorContext) -> int:
    rate = context.faults.upload_bytes_per_second
    if not rate:
        return _READ_CHUNK_BYTES
    # About ten reads per second when throttled, so pacing is smooth.
    return max(1024, min(_READ_CHUNK_BYTES, int(rate / 10)))


class WebSocketDropped(Exception):
    """Raised after the ``ws_drop_after_messages`` fault cut the connection."""


class ServerSocket:
    """The server side of one WebSocket session, counting what it sends.

    Wraps :class:`aiohttp.web.WebSocketResponse`. When the ``ws_drop_after_messages`` fault is
    set (read when the session opens), the TCP connection is aborted without a close frame right
    after that many messages were sent, and :class:`WebSocketDropped` is raised.
    Also paces received audio by the ``upload_bytes_per_second`` fault.
    """

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, context: EmulatorContext):
        self.request = request
        self.ws = ws
        self.context = context
        self.request_id = str(uuid.uuid4())
        self.sent_messages = 0
        self._drop_after = context.faults.ws_drop_after_messages
        self._pacer = Pacer(context.faults.upload_bytes_per_second)
        self._send_lock = asyncio.Lock()
        self.dropped = False
        # rtt_ms fault: messages wait in an outbox until one round trip after they were made.
        self._outbox: asyncio.Queue[tuple[float, str | bytes | None, bool]] | None = None
        self._sender: asyncio.Task[None] | None = None
        context.sessions.add(self)

    @property
    def closed(self) -> bool:
        """True once the socket is closed or dropped."""
        return self.dropped or self.ws.closed

    async def send_json(self, data: dict[str, Any]) -> None:
        """Send a JSON text frame."""
        await self._send(json.dumps(data, separators=(",", ":")), binary=False)

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame."""
        await self._send(data, binary=True)

    async def _send(self, data: str | bytes, *, binary: bool) -> None:
        rtt = self.context.faults.rtt_ms / 1000
        if rtt > 0 or self._outbox is not None:
            if self.closed:
                raise WebSocketDropped("socket closed")
            self._delayed().put_nowait((time.monotonic() + rtt, data, binary))
            return
        await self._send_now(data, binary=binary)

    def _delayed(self) -> asyncio.Queue[tuple[float, str | bytes | None, bool]]:
        if self._outbox is None:
            self._outbox = asyncio.Queue()
            self._sender = asyncio.create_task(self._send_delayed(self._outbox))
        return self._outbox

    async def _send_delayed(
        self, outbox: asyncio.Queue[tuple[float, str | bytes | None, bool]]
    ) -> None:
        """Send each message of the outbox when it is due; ``None`` data ends (close)."""
        while True:
            due, data, binary = await outbox.get()
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if data is None or self.closed:
                return
            try:
                await self._send_now(data, binary=binary)
            except (WebSocketDropped, ConnectionError, RuntimeError):
                return

    async def _send_now(self, data: str | bytes, *, binary: bool) -> None:
        async with self._send_lock:
            if self.closed:
                raise WebSocketDropped("socket closed")
            if binary:
                assert isinstance(data, bytes)
                await self.ws.send_bytes(data)
            else:
                assert isinstance(data, str)
                await self.ws.send_str(data)
            self.sent_messages += 1
            if self._drop_after is not None and self.sent_messages >= self._drop_after:
                self.drop()
                raise WebSocketDropped(f"dropped after {self.sent_messages} messages")

    def drop(self) -> None:
        """Abort the TCP connection (no close frame), as the fault asks."""
        if self.dropped:
            return
        self.dropped = True
        _LOGGER.info(
            "Fault: dropping WebSocket %s after %d messages", self.request_id, self.sent_messages
        )
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def received_audio(self, count: int) -> None:
        """Pace the receive loop for ``count`` bytes of received audio (upload throttle)."""
        await self._pacer.consume(count)

    def forget(self) -> None:
        """Unregister from the context (call when the handler ends)."""
        self.context.sessions.discard(self)

    async def close_without_code(self) -> None:
        """Close with a close frame that carries no status code (aiohttp's client then
        reports close code 0), as flux does after ``CloseStream``
        (https://developers.deepgram.com/docs/flux/close-stream)."""
        if self.closed:
            return
        writer: Any = self.ws._writer  # private: aiohttp always sends a code
        if writer is None:
            return

        async def close_frame(code: int = 1000, message: bytes | str = b"") -> None:
            try:
                await writer.send_frame(b"", WSMsgType.CLOSE)
            finally:
                writer._closing = True

        writer.close = close_frame
        async with self._send_lock:
            if not self.ws.closed:
                await self.ws.close()

    async def close(self, code: int = 1000, message: str = "") -> None:
        """Close with a close frame (unless already closed or dropped), after the messages
        still delayed by the ``rtt_ms`` fault."""
        if self._outbox is not None and self._sender is not None:
            rtt = self.context.faults.rtt_ms / 1000
            self._outbox.put_nowait((time.monotonic() + rtt, None, False))
            with contextlib.suppress(Exception):
                await self._sender
        if self.closed:
            return
        async with self._send_lock:
            if not self.ws.closed:
                await self.ws.close(code=code, message=message.encode())
