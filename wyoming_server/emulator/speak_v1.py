"""aura-1 / aura-2-en / aura-2-es over WebSocket: Deepgram's speak v1 protocol
(https://developers.deepgram.com/docs/tts-websocket).

Query: ``speaker`` (the model's enum), ``encoding`` (linear16 default, mulaw, alaw),
``sample_rate`` (8000/16000/24000/32000/48000, default 24000), ``container`` (none).
Server → client: ``Metadata`` on connect; for each ``Flush``, the audio of the text buffered by
``Speak`` messages as binary frames (raw samples, 200 ms each, sent as Piper produces each
sentence), then ``{"type":"Flushed","sequence_id":n}``. ``Clear`` drops buffered text and
audio not yet sent → ``Cleared``. ``Close`` closes (1000) after pending flushes. At most 20
``Flush`` per 60 s are served (https://developers.deepgram.com/docs/tts-ws-flush): a
``Flush`` beyond that gets a ``Warning`` and is not processed (no audio, no ``Flushed``; its
text is dropped). A session with no client message and no audio for ``ws_idle_timeout_s``
(the listen streams' idle timeout; Deepgram documents none for speak) is closed with 1011
``NET-0001``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from typing import Any

from aiohttp import WSMsgType, web

from . import schemas, tts
from .audio import OutputFormat, PcmResampler, encode
from .context import EmulatorContext, ServerSocket, WebSocketDropped
from .errors import bad_input
from .formats import websocket_format
from .models import ModelInfo
from .query import query_instance
from .streaming import prepare_socket
from .voices import speaker_length_scale

_LOGGER = logging.getLogger(__name__)

FRAME_SECONDS = 0.2
"""Audio per binary frame, in seconds."""
FLUSH_LIMIT = 20
FLUSH_WINDOW_S = 60.0
"""At most ``FLUSH_LIMIT`` Flush messages per ``FLUSH_WINDOW_S`` seconds (Deepgram, same page)."""
MAX_SPEAK_CHARS = 2000
"""Longest text of one ``Speak`` message (characters, Deepgram)."""


def parse_params(request: web.Request, model: ModelInfo) -> tuple[str, OutputFormat]:
    """Validate the handshake's query; returns (speaker, output format).

    Raises :class:`~.errors.CloudflareError` 400/5006 before the upgrade.
    """
    schema = schemas.INPUT_SCHEMAS[model.model_id]
    if "text" in request.query:
        raise bad_input("Error: text is sent in Speak messages, not in the URL")
    instance = query_instance(request.query, schema, repeatable=())
    # The input schema minus "text" (it arrives in Speak messages).
    schemas.validate(_WS_SCHEMAS.setdefault(model.model_id, _without_text(schema)), instance)
    fmt = websocket_format(instance)
    speaker = str(instance.get("speaker") or schemas.default_speaker(model.model_id))
    return speaker, fmt


_WS_SCHEMAS: dict[str, dict[str, Any]] = {}


def _without_text(schema: dict[str, Any]) -> dict[str, Any]:
    properties = {k: v for k, v in schema["properties"].items() if k != "text"}
    return {"type": "object", "properties": properties}


def model_name(model_id: str, speaker: str) -> str:
    """Deepgram's model name for a voice, e.g. ``aura-2-luna-en`` or ``aura-angus-en``."""
    short = model_id.rsplit("/", 1)[-1]
    if short == "aura-1":
        return f"aura-{speaker}-en"
    family, _, language = short.rpartition("-")
    return f"{family}-{speaker}-{language}"


async def serve(
    request: web.Request, context: EmulatorContext, model: ModelInfo
) -> web.StreamResponse:
    """Validate the handshake (4xx envelope before upgrading), then run the session."""
    speaker, fmt = parse_params(request, model)
    ws = prepare_socket()
    await ws.prepare(request)
    sock = ServerSocket(request, ws, context)
    session = SpeakSession(sock, context, model, speaker, fmt)
    try:
        await session.run()
    except (WebSocketDropped, ConnectionResetError):
        pass
    finally:
        await session.stop()
        sock.forget()
        await sock.close()
    return ws


class SpeakSession:
    """One aura streaming session."""

    def __init__(
        self,
        sock: ServerSocket,
        context: EmulatorContext,
        model: ModelInfo,
        speaker: str,
        fmt: OutputFormat,
    ) -> None:
        self.sock = sock
        self.context = context
        self.model = model
        self.speaker = speaker
        self.fmt = fmt
        self.length_scale = speaker_length_scale(model.model_id, speaker)
        self.text = ""
        self.flush_count = 0
        self.clear_count = 0
        self._flush_times: deque[float] = deque()
        self._jobs: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._current: asyncio.Task[None] | None = None
        self._last_activity = time.monotonic()  # last client message or audio frame sent

    async def run(self) -> None:
        """Serve until the client closes or sends ``Close``."""
        await self.sock.send_json(
            {
                "type": "Metadata",
                "request_id": self.sock.request_id,
                "model_name": model_name(self.model.model_id, self.speaker),
                "model_version": "2025-01-01.0",
                "model_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, self.model.model_id)),
            }
        )
        self._worker = asyncio.create_task(self._work())
        while True:
            msg = await self._receive()
            if msg is None:  # idle: closed like Deepgram's listen streams (NET-0001)
                _LOGGER.info("Speak WebSocket %s idle: closing", self.sock.request_id)
                await self.sock.close(1011, "NET-0001 no Speak or Flush within the timeout")
                return
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                break
            self._last_activity = time.monotonic()
            if msg.type == WSMsgType.TEXT:
                if not await self._on_text(msg.data):
                    break
            elif msg.type == WSMsgType.BINARY:
                await self.sock.close(1003, "DATA-0000 binary messages are not accepted")
                return
            if self._worker.done():
                break
        # Close (or client gone): let pending flushes finish if the socket is still open.
        if not self.sock.closed and not self._worker.done():
            self._jobs.put_nowait(None)
            with contextlib.suppress(WebSocketDropped, ConnectionResetError):
                await self._worker
        await self.sock.close(1000)

    async def _receive(self) -> Any:
        """The next client message; ``None`` once the session was idle (no client message, no
        audio being sent) for ``ws_idle_timeout_s``. Deepgram documents no speak v1 idle
        timeout; the emulator applies the listen one (configurable, ``--ws-idle-timeout``)."""
        receive = asyncio.ensure_future(self.sock.ws.receive())
        try:
            while True:
                idle = self.context.config.ws_idle_timeout_s
                busy = self._current is not None or not self._jobs.empty()
                remaining = idle - (time.monotonic() - self._last_activity)
                if not busy and remaining <= 0:
                    return None
                done, _ = await asyncio.wait({receive}, timeout=max(remaining, 0.05))
                if done:
                    return receive.result()
        finally:
            if not receive.done():
                receive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await receive

    async def _on_text(self, text: str) -> bool:
        """Handle a control message; False when the session is to close."""
        try:
            message: Any = json.loads(text)
        except json.JSONDecodeError:
            await self.sock.close(1008, "DATA-0000 text frame is not JSON")
            return False
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "Speak":
            value = message.get("text")
            if not isinstance(value, str):
                await self.sock.close(1008, "DATA-0000 Speak needs a text string")
                return False
            if len(value) > MAX_SPEAK_CHARS:
                await self._warn(
                    "TEXT_TOO_LONG", f"Speak text is longer than {MAX_SPEAK_CHARS} characters"
                )
                return True
            self.text += value
        elif kind == "Flush":
            await self._flush()
        elif kind == "Clear":
            await self._clear()
        elif kind == "Close":
            return False
        else:
            await self.sock.close(1008, f"DATA-0000 unsupported message type {kind!r}"[:120])
            return False
        return True

    async def _flush(self) -> None:
        now = time.monotonic()
        while self._flush_times and now - self._flush_times[0] > FLUSH_WINDOW_S:
            self._flush_times.popleft()
        if len(self._flush_times) >= FLUSH_LIMIT:
            self.text = ""
            await self._warn(
                "FLUSH_LIMIT_EXCEEDED",
                f"More than {FLUSH_LIMIT} Flush messages in {FLUSH_WINDOW_S:.0f} seconds: "
                "this Flush is not processed",
            )
            return
        self._flush_times.append(now)
        self._jobs.put_nowait((self.flush_count, self.text))
        self.flush_count += 1
        self.text = ""

    async def _clear(self) -> None:
        self.text = ""
        while not self._jobs.empty():
            self._jobs.get_nowait()
        current = self._current
        if current is not None and not current.done():
            current.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await current
        await self.sock.send_json({"type": "Cleared", "sequence_id": self.clear_count})
        self.clear_count += 1

    async def _warn(self, code: str, description: str) -> None:
        await self.sock.send_json({"type": "Warning", "description": description, "code": code})

    async def _work(self) -> None:
        while True:
            job = await self._jobs.get()
            if job is None:
                return
            sequence_id, text = job
            self._current = asyncio.create_task(self._speak(text))
            try:
                await self._current
            except asyncio.CancelledError:
                me = asyncio.current_task()
                if me is not None and me.cancelling():
                    raise
                continue  # cleared: no Flushed for this flush
            finally:
                self._current = None
            await self.sock.send_json({"type": "Flushed", "sequence_id": sequence_id})

    async def _speak(self, text: str) -> None:
        fmt = self.fmt
        resampler = PcmResampler(tts.PIPER_RATE, fmt.sample_rate)
        frame_bytes = int(fmt.sample_rate * FRAME_SECONDS) * 2
        pending = b""
        stream = tts.synthesize_stream(
            text, self.length_scale, self.context.faults.model_latency_ms
        )
        try:
            async for pcm in stream:
                pending += resampler.feed(pcm)
                while len(pending) >= frame_bytes:
                    await self._send_audio(pending[:frame_bytes])
                    pending = pending[frame_bytes:]
        finally:
            await stream.aclose()
        pending += resampler.feed(b"", final=True)
        if pending:
            await self._send_audio(pending)

    async def _send_audio(self, pcm: bytes) -> None:
        if self.fmt.encoding == "linear16":
            data = pcm
        else:
            data = encode(pcm, self.fmt.sample_rate, self.fmt)
        await self.sock.send_bytes(data)
        self._last_activity = time.monotonic()

    async def stop(self) -> None:
        """Cancel the synthesis worker."""
        for task in (self._current, self._worker):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
