"""Streaming speech-to-text sessions over a Workers AI WebSocket: nova-3 and flux.

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

Sessions read with aiohttp's ``autoclose`` off: the close frame ends the session at once,
without waiting for the closing handshake (aiohttp would wait up to ``ws_close`` seconds for a
second close frame after a close without a status code).

Sessions are made by :meth:`WorkersAIClient.listen`, which also closes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Final

import aiohttp

from .catalog import FLUX
from .errors import RequestTimeoutError, StreamClosedError, WorkersAIError
from .results import Transcription, TranscriptUpdate, Word, words_from_json
from .session_common import CLOSE_TIMEOUT, CLOSED, close_reason, neurons_of

_LOGGER = logging.getLogger(__name__)

FRAME_MS: Final = 100
"""Audio is sent in frames of this many ms (Deepgram recommends 80-100 ms,
https://developers.deepgram.com/docs/lower-level-websockets)."""

KEEPALIVE_AFTER: Final = 4.0
"""Seconds without audio after which nova-3 gets a ``KeepAlive`` (Deepgram closes an idle
stream after about 10 s, https://developers.deepgram.com/docs/audio-keep-alive)."""

FINISH_TIMEOUT: Final = 20.0
"""Seconds :meth:`ListenSession.finish` waits for the final transcript."""


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
                    f"{self.model_id} stream ended early ({close_reason(self._ws)})",
                    partial_text=self.text,
                )
            self._closed.set()
            self._updates.put_nowait(CLOSED)

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
            if item is CLOSED:
                self._updates.put_nowait(CLOSED)  # later iterators end too
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
    """nova-3 over listen v1: assembles ``is_final`` segments into the transcript."""

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
    """flux over listen v2: one transcript per turn, cumulative within the turn."""

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
        # EndOfTurn for the turn in progress
        # (https://developers.deepgram.com/docs/flux/close-stream).
        return self.text

    async def _send_finish(self) -> None:
        await self._send_json({"type": "CloseStream"})


async def connect_listen(
    ws: aiohttp.ClientWebSocketResponse, model_id: str, *, sample_rate: int, language: str | None
) -> ListenSession:
    """Wrap an open WebSocket in the session class of ``model_id``."""
    cls = FluxSession if model_id == FLUX else Nova3Session
    return cls(ws, model_id, sample_rate=sample_rate, language=language)
