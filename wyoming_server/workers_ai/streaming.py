"""Workers AI WebSocket sessions: streaming speech-to-text and text-to-speech.

- nova-3 speaks Deepgram's listen v1 protocol
  (https://developers.deepgram.com/docs/lower-level-websockets): binary PCM in; ``Results``
  with ``is_final`` / ``speech_final`` out; ``KeepAlive``, ``Finalize`` and ``CloseStream``
  control messages (text frames). After ``CloseStream`` the last ``Results`` are followed by
  ``Metadata``: the transcript is complete there, whatever close code follows.
- flux speaks listen v2 (https://developers.deepgram.com/docs/flux/): ``Connected``, then
  ``TurnInfo`` events ``StartOfTurn``, ``Update``, ``EagerEndOfTurn``, ``TurnResumed``,
  ``EndOfTurn``; the transcript is cumulative per turn. After ``CloseStream`` Flux sends
  ``Update``s and closes without ``EndOfTurn`` and without a close code: "treat the most recent
  Update as the final transcript" (https://developers.deepgram.com/docs/flux/close-stream).
- aura speaks Deepgram's speak v1 (https://developers.deepgram.com/docs/tts-websocket):
  ``Speak`` + ``Flush`` in; binary linear16 frames then ``Flushed`` out; ``Clear`` →
  ``Cleared``; ``Close``. At most 20 ``Flush`` per 60 s
  (https://developers.deepgram.com/docs/tts-ws-flush); beyond that a ``Warning`` and the flush
  is not processed.

Listen sessions read with aiohttp's ``autoclose`` off: the close frame ends the session at
once, without waiting for the closing handshake (aiohttp would wait up to ``ws_close``
seconds for a second close frame after a close without a status code).

Sessions are made by :meth:`WorkersAIClient.listen` / :meth:`WorkersAIClient.speak`, which also
close them.
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

from .catalog import FLUX
from .errors import (
    FlushLimitError,
    ProtocolError,
    RequestTimeoutError,
    StreamClosedError,
    WorkersAIError,
)
from .results import Transcription, TranscriptUpdate, Word, words_from_json

_LOGGER = logging.getLogger(__name__)

FRAME_MS: Final = 100
"""Audio is sent in frames of this many ms (Deepgram recommends 80-100 ms, doc §4.5-4.6)."""

KEEPALIVE_AFTER: Final = 4.0
"""Seconds without audio after which nova-3 gets a ``KeepAlive`` (it closes after ~10 s, §4.5)."""

FINISH_TIMEOUT: Final = 20.0
"""Seconds :meth:`ListenSession.finish` waits for the final transcript."""

RECEIVE_TIMEOUT: Final = 15.0
"""Seconds a speak session waits for the next audio frame or ``Flushed``."""

CLOSE_TIMEOUT: Final = 1.0
"""Seconds :meth:`aclose` waits for the closing handshake before dropping the connection."""

FLUSH_LIMIT: Final = 20
FLUSH_WINDOW: Final = 60.0
"""At most ``FLUSH_LIMIT`` ``Flush`` per ``FLUSH_WINDOW`` seconds on an aura WebSocket."""

_CLOSED: Final = object()


def neurons_of(ws: aiohttp.ClientWebSocketResponse) -> float | None:
    """``cf-ai-neurons`` of the WebSocket handshake response, if it had one."""
    response = getattr(ws, "_response", None)
    headers = getattr(response, "headers", None)
    return parse_neurons(headers.get("cf-ai-neurons") if headers is not None else None)


def parse_neurons(value: str | None) -> float | None:
    """The ``cf-ai-neurons`` header as a number (``None`` when absent or not a number)."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _close_reason(ws: aiohttp.ClientWebSocketResponse) -> str:
    code = ws.close_code
    exc = ws.exception()
    parts = []
    if code is not None:
        parts.append(f"close code {code}")
    if exc is not None:
        parts.append(f"{type(exc).__name__}: {exc}")
    return ", ".join(parts) or "connection closed"


class ListenSession:
    """A streaming ASR session; the common part of nova-3 and flux.

    Feed mono s16le PCM with :meth:`send_audio`; read hypotheses from :meth:`updates`; call
    :meth:`finish` at the end of the utterance for the final :class:`Transcription`.
    """

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        model_id: str,
        *,
        sample_rate: int,
        language: str | None,
    ) -> None:
        self.model_id = model_id
        self.sample_rate = sample_rate
        self.language = language
        self.end_of_turn = asyncio.Event()
        """Set when the model decided the speaker finished (flux ``EndOfTurn``)."""
        self.end_of_turn_audio_end: float | None = None
        """flux: ``audio_window_end`` of the ``EndOfTurn`` that set :attr:`end_of_turn`, seconds
        of audio from the start of the stream (``None`` when absent)."""
        self._ws = ws
        self._frame_bytes = sample_rate * 2 * FRAME_MS // 1000
        self.audio_bytes_sent = 0
        """Bytes of PCM sent so far (usage metering: audio seconds = bytes / 2 / rate)."""
        self._buffer = bytearray()
        self._updates: asyncio.Queue[TranscriptUpdate | object] = asyncio.Queue()
        self._last_text = ""
        self._last_sent = time.monotonic()
        self._finishing = False
        self._error: WorkersAIError | None = None
        self._words: list[Word] = []
        self._committed: list[str] = []  # nova-3 is_final segments / flux completed turns
        self._pending = ""  # the interim segment / the current turn, revised by the model
        self._closed = asyncio.Event()
        self._complete = asyncio.Event()  # the final transcript is complete (nova-3 Metadata)
        self._close_frame = False  # the model closed with a close frame
        self.neurons = neurons_of(ws)
        """``cf-ai-neurons`` of the handshake response, when Workers AI sent one."""
        self._reader = asyncio.create_task(self._read_loop(), name=f"{model_id} reader")
        self._keepalive: asyncio.Task[None] | None = None

    # -------------------------------------------------------------- to be specialised

    def _handle(self, message: dict[str, Any]) -> None:
        raise NotImplementedError

    @property
    def text(self) -> str:
        """The whole hypothesis so far (committed text plus the current interim part)."""
        return " ".join(s for s in [*self._committed, self._pending] if s)

    @property
    def final_text(self) -> str:
        """Only what the model has committed (``is_final`` segments / completed turns)."""
        return " ".join(s for s in self._committed if s)

    async def _send_finish(self) -> None:
        raise NotImplementedError

    # -------------------------------------------------------------- common machinery

    def _clean_close(self) -> bool:
        """Whether the way the stream ended delivered the whole transcript."""
        return self._complete.is_set() or (
            self._finishing
            and self._close_frame
            and self._ws.close_code in (None, 0, aiohttp.WSCloseCode.OK)
        )

    async def _read_loop(self) -> None:
        try:
            while True:
                msg = await self._ws.receive()
                if msg.type is aiohttp.WSMsgType.TEXT:
                    try:
                        message = json.loads(msg.data)
                    except ValueError:
                        _LOGGER.warning("%s: ignoring non-JSON message", self.model_id)
                        continue
                    if isinstance(message, dict):
                        self._handle(message)
                elif msg.type is aiohttp.WSMsgType.CLOSE:
                    self._close_frame = True
                    break
                elif msg.type is not aiohttp.WSMsgType.BINARY:  # CLOSING, CLOSED, ERROR
                    break
        except Exception as err:  # reported through finish() / send_audio()
            self._error = StreamClosedError(f"{self.model_id}: {err}", partial_text=self.text)
        finally:
            # After CloseStream, nova-3 sends its last Results and Metadata, flux its last
            # Updates, then they close (flux without a close code). Any other end (abrupt TCP
            # close = 1006, error codes, a close before CloseStream) loses the transcript.
            clean = self._clean_close()
            if self._error is None and not clean and not self.end_of_turn.is_set():
                self._error = StreamClosedError(
                    f"{self.model_id} stream ended early ({_close_reason(self._ws)})",
                    partial_text=self.text,
                )
            self._closed.set()
            self._updates.put_nowait(_CLOSED)

    def _publish(self, *, is_final: bool, end_of_turn: bool = False) -> None:
        text = self.text
        if text == self._last_text and not end_of_turn:
            return
        self._last_text = text
        self._updates.put_nowait(TranscriptUpdate(text, is_final=is_final, end_of_turn=end_of_turn))

    def _commit(self, text: str, words: tuple[Word, ...]) -> None:
        """The model committed ``text`` (a final segment or a completed turn)."""
        if text:
            self._committed.append(text)
            self._words.extend(words)
        self._pending = ""

    def _fail(self, message: str) -> None:
        self._error = StreamClosedError(f"{self.model_id}: {message}", partial_text=self.text)

    async def updates(self) -> AsyncIterator[TranscriptUpdate]:
        """Yield hypotheses as they change, until the stream closes.

        Each update carries the whole hypothesis, so a consumer may drop any but the newest.
        """
        while True:
            item = await self._updates.get()
            if item is _CLOSED:
                self._updates.put_nowait(_CLOSED)  # later iterators end too
                return
            assert isinstance(item, TranscriptUpdate)
            yield item

    async def send_audio(self, pcm: bytes) -> None:
        """Send mono s16le PCM at :attr:`sample_rate` Hz, in frames of :data:`FRAME_MS` ms.

        Raises:
            StreamClosedError: the WebSocket is gone (``partial_text`` says what was heard).
        """
        if self._closed.is_set() or self._ws.closed:
            raise self._error or StreamClosedError(
                f"{self.model_id} stream is closed", partial_text=self.text
            )
        self._buffer += pcm
        while len(self._buffer) >= self._frame_bytes:
            frame = bytes(self._buffer[: self._frame_bytes])
            del self._buffer[: self._frame_bytes]
            await self._send_bytes(frame)

    async def _send_bytes(self, frame: bytes) -> None:
        try:
            await self._ws.send_bytes(frame)
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as err:
            raise StreamClosedError(
                f"{self.model_id}: cannot send audio: {err}", partial_text=self.text
            ) from err
        self._last_sent = time.monotonic()
        self.audio_bytes_sent += len(frame)

    async def _send_json(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
            await self._ws.send_str(json.dumps(message))

    async def _flush_buffer(self) -> None:
        if self._buffer and not self._ws.closed:
            frame = bytes(self._buffer)
            self._buffer.clear()
            await self._send_bytes(frame)

    async def finish(self, timeout: float = FINISH_TIMEOUT) -> Transcription:
        """End the utterance and return the final transcript.

        Sends what is buffered, then the model's end-of-stream message, and waits (at most
        ``timeout`` seconds) for the model to close the stream, unless a turn already ended.

        Raises:
            StreamClosedError: the stream broke before the end (``partial_text`` is set).
            RequestTimeoutError: no final answer within ``timeout`` seconds.
        """
        if not self.end_of_turn.is_set() and not self._closed.is_set():
            self._finishing = True
            await self._flush_buffer()
            await self._send_finish()
            waits = [
                asyncio.ensure_future(event.wait())
                for event in (self._closed, self.end_of_turn, self._complete)
            ]
            try:
                await asyncio.wait(waits, timeout=timeout, return_when="FIRST_COMPLETED")
            finally:
                for wait in waits:
                    wait.cancel()
            if not (self._closed.is_set() or self.end_of_turn.is_set() or self._complete.is_set()):
                raise RequestTimeoutError(
                    f"{self.model_id}: no final transcript within {timeout:g} s"
                )
        if (
            self._error is not None
            and not self.end_of_turn.is_set()
            and not self._complete.is_set()
        ):
            raise self._error
        return Transcription(
            self._result_text(),
            self.model_id,
            self.language,
            tuple(self._words),
            neurons=self.neurons,
        )

    def _result_text(self) -> str:
        """The final transcript's text once the stream is finished."""
        return self.final_text or self.text

    async def aclose(self) -> None:
        """Close the WebSocket and stop the background tasks (idempotent)."""
        self._finishing = True
        if self._keepalive is not None:
            self._keepalive.cancel()
        if not self._ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), CLOSE_TIMEOUT)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader


class Nova3Session(ListenSession):
    """nova-3 over listen v1 (doc §4.5): assembles ``is_final`` segments into the transcript."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keepalive = asyncio.create_task(self._keepalive_loop(), name="nova-3 keepalive")

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "Results":
            try:
                alternative = message["channel"]["alternatives"][0]
                transcript = str(alternative.get("transcript") or "").strip()
            except (KeyError, IndexError, TypeError):
                _LOGGER.warning("nova-3: Results without channel.alternatives[0]")
                return
            is_final = bool(message.get("is_final"))
            if is_final:
                self._commit(
                    transcript, words_from_json(alternative.get("words"), "punctuated_word")
                )
            else:
                self._pending = transcript
            self._publish(is_final=is_final, end_of_turn=bool(message.get("speech_final")))
        elif kind == "Error":
            self._fail(str(message.get("description") or message.get("message") or message))
        elif kind == "Metadata" and self._finishing:
            # Sent after the last Results of a CloseStream: the transcript is complete.
            self._complete.set()
        # SpeechStarted and UtteranceEnd need no action.

    async def _send_finish(self) -> None:
        await self._send_json({"type": "Finalize"})
        await self._send_json({"type": "CloseStream"})

    async def _keepalive_loop(self) -> None:
        while not self._ws.closed:
            await asyncio.sleep(1.0)
            if not self._finishing and time.monotonic() - self._last_sent > KEEPALIVE_AFTER:
                await self._send_json({"type": "KeepAlive"})
                self._last_sent = time.monotonic()


class FluxSession(ListenSession):
    """flux over listen v2 (doc §4.6): one transcript per turn, cumulative within the turn."""

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "TurnInfo" or "event" in message:
            event = message.get("event")
            transcript = str(message.get("transcript") or "").strip()
            if event == "EndOfTurn":
                self._commit(transcript, words_from_json(message.get("words")))
                if transcript and not self.end_of_turn.is_set():
                    if isinstance(end := message.get("audio_window_end"), int | float):
                        self.end_of_turn_audio_end = float(end)
                    self.end_of_turn.set()
                self._publish(is_final=True, end_of_turn=bool(transcript))
            elif event in ("StartOfTurn", "Update", "EagerEndOfTurn", "TurnResumed"):
                self._pending = transcript
                self._publish(is_final=False)
        elif kind == "Error":
            self._fail(str(message.get("description") or message.get("code") or message))
        # Connected, Warning and Configure* need no action.

    def _result_text(self) -> str:
        # Completed turns plus the most recent Update: after CloseStream, Flux sends no
        # EndOfTurn for the turn in progress (§9 C1).
        return self.text

    async def _send_finish(self) -> None:
        await self._send_json({"type": "CloseStream"})


async def connect_listen(
    ws: aiohttp.ClientWebSocketResponse, model_id: str, *, sample_rate: int, language: str | None
) -> ListenSession:
    """Wrap an open WebSocket in the session class of ``model_id``."""
    cls = FluxSession if model_id == FLUX else Nova3Session
    return cls(ws, model_id, sample_rate=sample_rate, language=language)


class SpeakSession:
    """An aura speak v1 session (doc §5.4) producing mono s16le PCM at :attr:`sample_rate` Hz.

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
            self._queue.put_nowait(_CLOSED)

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
            if item is _CLOSED:
                self._queue.put_nowait(_CLOSED)
                raise StreamClosedError(
                    f"{self.model_id} stream ended before Flushed ({_close_reason(self._ws)})"
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
