"""The shared machinery of the streaming speech-recognition WebSockets (nova-3 listen v1,
flux listen v2): receive loop with Deepgram's idle timeout, audio buffering with speech
detection, and a processor task that runs inference without blocking the receive loop.

Deepgram facts (https://developers.deepgram.com/docs/lower-level-websockets): ~10 s without audio or
a text message closes the socket with 1011 ``NET-0001``; undecodable/unknown data closes it with
1008 ``DATA-0000``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from .audio import StreamResampler
from .context import EmulatorContext, ServerSocket, WebSocketDropped
from .vad import SpeechBuffer

_LOGGER = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Largest WebSocket message accepted (bytes)."""

_CLOSE_STREAM = "close"
_FINALIZE = "finalize"


class ProtocolViolation(Exception):
    """The client sent something the protocol does not allow; closes with 1008."""


class ListenSession:
    """One streaming ASR session; subclasses implement the protocol's answers.

    Subclasses override :meth:`on_open`, :meth:`on_audio` (process audio up to an absolute
    sample position), :meth:`on_control` (text messages other than audio) and :meth:`on_close`.
    """

    def __init__(
        self,
        sock: ServerSocket,
        context: EmulatorContext,
        *,
        sample_rate: int,
        channels: int = 1,
        encoding: str = "linear16",
    ) -> None:
        self.sock = sock
        self.context = context
        self.sample_rate = sample_rate
        self.channels = channels
        self.buffer = SpeechBuffer()
        self.created = datetime.now(UTC)
        self.received_bytes = 0
        self._digest = hashlib.sha256()
        self._resampler = StreamResampler(sample_rate, channels=channels, encoding=encoding)
        self._commands: deque[tuple[str, int]] = deque()
        self._wake = asyncio.Event()
        self._closing = False

    @property
    def command_pending(self) -> bool:
        """True when ``Finalize``/``CloseStream`` waits: interim answers are not worth
        computing any more (the final one follows)."""
        return bool(self._commands)

    @property
    def model_latency_ms(self) -> float:
        """The ``model_latency_ms`` fault, read live."""
        return self.context.faults.model_latency_ms

    async def run(self) -> None:
        """Serve the session until the stream ends, the client leaves or it idles out."""
        processor = asyncio.create_task(self._process_loop())
        try:
            await self.on_open()
            reason = await self._receive_loop(processor)
            if reason == "close-stream":
                await processor
            else:
                processor.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await processor
                if reason == "idle":
                    _LOGGER.info("WebSocket %s idle: closing with NET-0001", self.sock.request_id)
                    await self.sock.close(1011, "NET-0001")
                elif reason.startswith("violation:"):
                    await self.sock.close(1008, f"DATA-0000 {reason[len('violation:') :]}"[:120])
        except (WebSocketDropped, ConnectionResetError):
            pass
        finally:
            if not processor.done():
                processor.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await processor
            if not processor.cancelled() and processor.done():
                error = processor.exception()
                if error is not None and not isinstance(
                    error, WebSocketDropped | ConnectionResetError
                ):
                    _LOGGER.error("Streaming session failed", exc_info=error)
            await self.sock.close()

    async def _receive_loop(self, processor: asyncio.Task[None]) -> str:
        idle = self.context.config.ws_idle_timeout_s
        ws = self.sock.ws
        while True:
            receive = asyncio.ensure_future(ws.receive())
            done, _ = await asyncio.wait(
                {receive, processor}, timeout=idle, return_when=asyncio.FIRST_COMPLETED
            )
            if receive not in done:
                receive.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await receive
                if processor in done:
                    return "processor-ended"
                return "idle"
            msg = receive.result()
            if msg.type == WSMsgType.BINARY:
                await self._on_binary(msg.data)
            elif msg.type == WSMsgType.TEXT:
                try:
                    if await self._on_text(msg.data):
                        return "close-stream"
                except ProtocolViolation as err:
                    return f"violation:{err}"
            else:  # CLOSE, CLOSING, CLOSED, ERROR
                return "client-closed"

    async def _on_binary(self, data: bytes) -> None:
        if self._closing:
            return
        await self.sock.received_audio(len(data))
        self.received_bytes += len(data)
        self._digest.update(data)
        self.buffer.append(self._resampler.feed(data))
        self._wake.set()

    async def _on_text(self, text: str) -> bool:
        """Handle a text frame; True when the stream is to close (CloseStream)."""
        try:
            message = json.loads(text)
        except json.JSONDecodeError as err:
            raise ProtocolViolation("text frame is not JSON") from err
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise ProtocolViolation("message without a type")
        kind = message["type"]
        if kind == "KeepAlive":
            return False
        if kind == "CloseStream":
            self._closing = True
            self.buffer.append(self._resampler.flush())
            self._enqueue(_CLOSE_STREAM)
            return True
        if kind == "Finalize" and self.supports_finalize():
            self._enqueue(_FINALIZE)
            return False
        raise ProtocolViolation(f"unsupported message type {kind!r}")

    def supports_finalize(self) -> bool:
        """Whether ``{"type":"Finalize"}`` is part of the protocol."""
        return False

    def _enqueue(self, command: str) -> None:
        self._commands.append((command, self.buffer.end))
        self._wake.set()

    async def _process_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._commands:
                command, position = self._commands[0]
                await self.on_audio(position, final=True)
                self._commands.popleft()
                if command == _FINALIZE:
                    await self.on_finalize(position)
                else:
                    await self.on_close(position)
                    return
            await self.on_audio(self.buffer.analysed_end, final=False)

    # -- protocol hooks -----------------------------------------------------------------

    async def on_open(self) -> None:
        """Called once the socket is open."""

    async def on_audio(self, limit: int, *, final: bool) -> None:
        """Process audio up to absolute sample ``limit`` (``final``: no more will come before
        the next command at ``limit``)."""
        raise NotImplementedError

    async def on_finalize(self, position: int) -> None:
        """``Finalize`` at ``position`` (samples)."""

    async def on_close(self, position: int) -> None:
        """``CloseStream`` at ``position``: send the last messages and close."""
        raise NotImplementedError

    @property
    def audio_sha256(self) -> str:
        """SHA-256 (hex) of every audio byte received."""
        return self._digest.hexdigest()

    def metadata_created(self) -> str:
        """Session start as ISO 8601 with milliseconds, e.g. ``2024-08-29T22:37:55.202Z``."""
        return (
            self.created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.created.microsecond // 1000:03d}Z"
        )


def json_message(kind: str, **fields: Any) -> dict[str, Any]:
    """A protocol message ``{"type": kind, **fields}``."""
    return {"type": kind, **fields}


def prepare_socket() -> web.WebSocketResponse:
    """A server WebSocket configured like the emulator's streaming endpoints."""
    return web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, autoping=True)


async def serve_listen(
    request: web.Request,
    context: EmulatorContext,
    make_session: Callable[[ServerSocket], ListenSession],
) -> web.WebSocketResponse:
    """Upgrade ``request`` (already validated) to a WebSocket and run one ASR session on it."""
    ws = prepare_socket()
    await ws.prepare(request)
    sock = ServerSocket(request, ws, context)
    try:
        await make_session(sock).run()
    finally:
        sock.forget()
    return ws
