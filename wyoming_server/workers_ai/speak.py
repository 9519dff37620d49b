"""Streaming text-to-speech sessions over a Workers AI WebSocket: aura.

aura speaks Deepgram's speak v1 (https://developers.deepgram.com/docs/tts-websocket): ``Speak``
+ ``Flush`` in; binary linear16 frames then ``Flushed`` out; ``Clear`` → ``Cleared``;
``Close``. At most 20 ``Flush`` per 60 s (https://developers.deepgram.com/docs/tts-ws-flush);
beyond that a ``Warning`` and the flush is not processed.

Sessions are made by :meth:`WorkersAIClient.speak`, which also closes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Final

import aiohttp

from .errors import FlushLimitError, ProtocolError, RequestTimeoutError, StreamClosedError
from .session_common import CLOSE_TIMEOUT, CLOSED, close_reason, neurons_of

_LOGGER = logging.getLogger(__name__)

RECEIVE_TIMEOUT: Final = 15.0
"""Seconds a speak session waits for the next audio frame or ``Flushed``."""

FLUSH_LIMIT: Final = 20
FLUSH_WINDOW: Final = 60.0
"""At most ``FLUSH_LIMIT`` ``Flush`` per ``FLUSH_WINDOW`` seconds on an aura WebSocket."""


class SpeakSession:
    """An aura speak v1 session producing mono s16le PCM at :attr:`sample_rate` Hz.

    Text goes in with :meth:`speak` (``Speak``: buffered) and :meth:`flush` (``Flush``:
    synthesize the buffer), or both at once with :meth:`send_text`. Several flushes may be sent
    before their audio is read; each :meth:`flushed_audio` call yields the audio of the next
    flush, in order.

    Workers AI passes Deepgram's limit through: at most :data:`FLUSH_LIMIT` ``Flush`` per
    :data:`FLUSH_WINDOW` seconds; a ``Flush`` beyond it gets a ``Warning`` and is never served
    (https://developers.deepgram.com/docs/tts-ws-flush). The session counts its flushes and
    refuses to send one beyond the limit (:class:`FlushLimitError`); a flush ``Warning`` fails
    the refused flush in :meth:`flushed_audio` at once instead of waiting for audio that never
    comes.
    """

    def __init__(
        self, ws: aiohttp.ClientWebSocketResponse, model_id: str, sample_rate: int
    ) -> None:
        self.model_id = model_id
        self.sample_rate = sample_rate
        self._ws = ws
        self._queue: asyncio.Queue[bytes | str | object] = asyncio.Queue()
        self._pending_flushes = 0
        self._refused_flushes = 0  # pending flushes the model refused with a Warning
        self._flush_times: deque[float] = deque()
        self._unflushed = ""
        self.neurons = neurons_of(ws)
        """``cf-ai-neurons`` of the handshake response, when Workers AI sent one."""
        self.characters_sent = 0
        """Characters of text sent so far (usage metering)."""
        self._reader = asyncio.create_task(self._read_loop(), name=f"{model_id} reader")

    @property
    def closed(self) -> bool:
        """True once the WebSocket is closed (by either side)."""
        return self._ws.closed

    async def _read_loop(self) -> None:
        try:
            async for msg in self._ws:
                if msg.type is aiohttp.WSMsgType.BINARY:
                    self._queue.put_nowait(msg.data)
                elif msg.type is aiohttp.WSMsgType.TEXT:
                    try:
                        message = json.loads(msg.data)
                    except ValueError:
                        continue
                    kind = message.get("type") if isinstance(message, dict) else None
                    if kind == "Flushed":
                        self._queue.put_nowait("Flushed")
                    elif kind == "Warning":
                        _LOGGER.warning("%s warning: %s", self.model_id, message.get("description"))
                        if _is_flush_warning(message):
                            self._refused_flushes += 1
                            self._queue.put_nowait("Warning")
                    elif kind == "Error":
                        _LOGGER.warning("%s error: %s", self.model_id, message)
        finally:
            self._queue.put_nowait(CLOSED)

    @property
    def pending_flushes(self) -> int:
        """Flushes sent whose audio was not read to the end yet."""
        return self._pending_flushes

    @property
    def unflushed_text(self) -> str:
        """Text sent with :meth:`speak` and not flushed yet."""
        return self._unflushed

    def flushes_available(self, now: float | None = None) -> int:
        """How many ``Flush`` may be sent now without exceeding the limit."""
        now = time.monotonic() if now is None else now
        while self._flush_times and now - self._flush_times[0] >= FLUSH_WINDOW:
            self._flush_times.popleft()
        return FLUSH_LIMIT - len(self._flush_times)

    async def _send(self, message: dict[str, str]) -> None:
        if self._ws.closed:
            raise StreamClosedError(f"{self.model_id} stream is closed")
        try:
            await self._ws.send_str(json.dumps(message))
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as err:
            raise StreamClosedError(f"{self.model_id}: cannot send: {err}") from err

    async def speak(self, text: str) -> None:
        """Add ``text`` to the model's buffer (``Speak``); nothing is synthesized before
        :meth:`flush`.

        Raises:
            StreamClosedError: the WebSocket is gone.
        """
        await self._send({"type": "Speak", "text": text})
        self._unflushed = f"{self._unflushed} {text}".strip()
        self.characters_sent += len(text)

    async def flush(self) -> str:
        """Synthesize the buffered text (``Flush``); returns that text.

        Raises:
            FlushLimitError: :data:`FLUSH_LIMIT` flushes were sent in the last
                :data:`FLUSH_WINDOW` seconds (nothing is sent; the text stays buffered).
            StreamClosedError: the WebSocket is gone.
        """
        if self.flushes_available() <= 0:
            raise FlushLimitError(
                f"{self.model_id}: {FLUSH_LIMIT} flushes in {FLUSH_WINDOW:g} s already"
            )
        await self._send({"type": "Flush"})
        self._flush_times.append(time.monotonic())
        self._pending_flushes += 1
        text, self._unflushed = self._unflushed, ""
        return text

    async def send_text(self, text: str) -> None:
        """Queue ``text`` for synthesis (``Speak`` then ``Flush``).

        Raises:
            FlushLimitError: no flush is available (see :meth:`flush`); nothing was sent.
            StreamClosedError: the WebSocket is gone.
        """
        if self.flushes_available() <= 0:
            raise FlushLimitError(
                f"{self.model_id}: {FLUSH_LIMIT} flushes in {FLUSH_WINDOW:g} s already"
            )
        await self.speak(text)
        await self.flush()

    async def flushed_audio(self, timeout: float = RECEIVE_TIMEOUT) -> AsyncIterator[bytes]:
        """Yield the PCM frames of the oldest pending flush, ending at its ``Flushed``.

        Raises:
            ProtocolError: no flush is pending.
            FlushLimitError: the model refused this flush (a flush ``Warning``).
            StreamClosedError: the stream closed before ``Flushed``.
            RequestTimeoutError: nothing arrived for ``timeout`` seconds.
        """
        if self._pending_flushes <= 0:
            raise ProtocolError("flushed_audio() without a pending send_text()")
        while True:
            if self._refused_flushes and self._pending_flushes <= self._refused_flushes:
                # Refused flushes are the newest ones: every flush still pending is refused.
                self._pending_flushes -= 1
                self._refused_flushes -= 1
                raise FlushLimitError(f"{self.model_id}: the model refused the flush")
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout)
            except TimeoutError as err:
                raise RequestTimeoutError(f"{self.model_id}: no audio for {timeout:g} s") from err
            if item == "Warning":
                continue  # re-checked above
            if item == "Flushed":
                self._pending_flushes -= 1
                return
            if item is CLOSED:
                self._queue.put_nowait(CLOSED)
                raise StreamClosedError(
                    f"{self.model_id} stream ended before Flushed ({close_reason(self._ws)})"
                )
            if isinstance(item, bytes) and item:
                yield item

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        """Send one text and yield its audio frames (see :meth:`flushed_audio`)."""
        await self.send_text(text)
        async for frame in self.flushed_audio():
            yield frame

    async def clear(self) -> None:
        """Drop text and audio not yet delivered (``Clear``; barge-in)."""
        self._unflushed = ""
        with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
            await self._ws.send_str(json.dumps({"type": "Clear"}))

    async def aclose(self) -> None:
        """Send ``Close`` and close the WebSocket (idempotent)."""
        if not self._ws.closed:
            with contextlib.suppress(Exception):
                await self._ws.send_str(json.dumps({"type": "Close"}))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), CLOSE_TIMEOUT)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader


def _is_flush_warning(message: dict[str, Any]) -> bool:
    """Whether a speak v1 ``Warning`` says a ``Flush`` was refused (its code or text names
    flushes; Deepgram documents no code)."""
    text = f"{message.get('code', '')} {message.get('description', '')}".lower()
    return "flush" in text


async def connect_speak(
    ws: aiohttp.ClientWebSocketResponse, model_id: str, *, sample_rate: int
) -> SpeakSession:
    """Wrap an open WebSocket in a :class:`SpeakSession`."""
    return SpeakSession(ws, model_id, sample_rate)
