"""Text-to-speech of one reply, sentence by sentence, audio out as soon as it exists.

Text (one ``synthesize``, or the ``synthesize-chunk`` stream) goes through wyoming-piper's
``sentence_stream.SentenceBoundaryDetector``; each complete sentence is submitted at once:

- aura-1 / aura-2-en / aura-2-es: over ONE aura WebSocket per reply (``Speak`` + ``Flush``,
  linear16 at 24 kHz; https://developers.deepgram.com/docs/tts-websocket). The first sentence
  is flushed alone, as soon as it is complete; sentences completed while a flush is being
  synthesized are grouped into the next flush (as Home Assistant groups them), so a reply uses
  few of the 20 ``Flush`` per 60 s the WebSocket allows
  (https://developers.deepgram.com/docs/tts-ws-flush). A flush the limit would refuse, or one
  the model refuses with a ``Warning``, is spoken over REST at once, as is the rest of the
  reply. If the WebSocket is refused for any reason but the account's (token, account, plan,
  daily allocation), the reply falls back to aura REST. A WebSocket that closed while the reply
  waited for text is reopened for the next sentence (:meth:`SynthesisReply._reopen_websocket`).
- melotts (REST only, https://developers.cloudflare.com/workers-ai/models/melotts/), and aura
  REST: one request per sentence, pipelined: the next sentence's request is in flight while the
  previous sentence's audio is being sent (at most :data:`REST_IN_FLIGHT` requests per reply).

All audio of a reply goes out as ONE ``audio-start`` … ``audio-stop`` at one format
(:class:`AudioReply`), with silence in the gaps of a streamed reply (audio_gaps.py). A streaming
reply ends with ``synthesize-stopped``. Any failure sends a
Wyoming ``error``, then ``audio-stop`` (plain ``synthesize``, or once audio started) and
``synthesize-stopped`` (streaming), so Home Assistant never waits forever: it ignores ``error``
(https://github.com/home-assistant/core/blob/dev/homeassistant/components/wyoming/tts.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable

from sentence_stream import SentenceBoundaryDetector
from wyoming.tts import SynthesizeStopped

from ..workers_ai import WorkersAIClient, audio, catalog
from ..workers_ai.errors import (
    AccountNotAllowedError,
    AccountNotFoundError,
    AuthenticationError,
    PaidPlanRequiredError,
    QuotaExceededError,
    WorkersAIError,
)
from ..workers_ai.speak import SpeakSession
from ..workers_ai.text import split_text
from .audio_gaps import GapFiller
from .audio_reply import AudioReply
from .request_errors import EMPTY_TEXT, INTERNAL_ERROR, BadRequestError, describe_failure
from .settings import TTS_WEBSOCKET_SAMPLE_RATE_HZ, ServerSettings
from .speak_spares import spares_for
from .transcripts import WriteEvent
from .tts_websocket import AuraWebSocketReply, PcmStream

_LOGGER = logging.getLogger(__name__)

MAX_PENDING_CHARS = 500
"""Characters of text without a sentence end after which it is spoken anyway (at a space)."""

TEXT_PAUSE_S = 0.5
"""Seconds without new text after which a finished sentence still held back is spoken. The
sentence detector waits for the next word before it ends a sentence (an abbreviation such as
"Dr." may go on), so during a text gap (an LLM's tool call) the sentence before it would
otherwise wait for the whole gap; LLM text otherwise arrives in pieces tens of ms apart."""
SENTENCE_END = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019)\]]*$")
"""Text ending like a sentence (final punctuation, then closing quotes or brackets)."""

REST_IN_FLIGHT = 2
"""REST synthesis requests one reply may have open at once (the one playing and the next)."""

_END = None


def _use_rest_fallback(err: WorkersAIError) -> bool:
    """Whether a refused aura WebSocket is worth retrying over REST: yes unless the account
    itself is the problem (token, account ID, plan, quota), which REST would meet again."""
    return not isinstance(
        err,
        (
            AuthenticationError,
            AccountNotFoundError,
            AccountNotAllowedError,
            PaidPlanRequiredError,
            QuotaExceededError,
        ),
    )


class SynthesisReply(AuraWebSocketReply):
    """One reply: text in (:meth:`add_text`, :meth:`finish`), Wyoming audio events out.

    ``streaming`` selects the terminal events: ``synthesize-stopped`` after ``audio-stop``
    (``synthesize-start`` flow) or only ``audio-stop`` (plain ``synthesize``).
    """

    def __init__(
        self,
        client: WorkersAIClient,
        voice: catalog.Voice,
        settings: ServerSettings,
        write: WriteEvent,
        *,
        streaming: bool,
    ) -> None:
        """Nothing is sent or opened before the first complete sentence."""
        self.client = client
        self.voice = voice
        self.model = catalog.get_model(voice.model_id)
        self.settings = settings
        self.streaming = streaming
        self._write = write
        self._audio = AudioReply(write, settings.samples_per_chunk)
        self._filler = GapFiller(self._audio, TTS_WEBSOCKET_SAMPLE_RATE_HZ)
        self._detector = SentenceBoundaryDetector()
        self._jobs: asyncio.Queue[PcmStream | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._rest_tasks: set[asyncio.Task[audio.PcmAudio]] = set()
        self._rest_slots = asyncio.Semaphore(REST_IN_FLIGHT)
        self._use_websocket = self.model.websocket and settings.tts_streaming
        self._stack = contextlib.AsyncExitStack()
        self._speak: SpeakSession | None = None
        self._opening: asyncio.Task[SpeakSession | None] | None = None
        self._ws_busy = False  # a WebSocket flush is being synthesized and played
        self._group: list[str] = []  # sentences waiting for the next WebSocket flush
        self._conclude_lock = asyncio.Lock()
        self._text_lock = asyncio.Lock()  # add_text and a text pause submit in order
        self._pause_timer: asyncio.TimerHandle | None = None
        self._pause_task: asyncio.Task[None] | None = None
        self.websocket_reopens = 0
        """How many times the aura WebSocket was reopened after it closed during a gap."""
        self.sentences = 0
        self.texts: list[str] = []
        """Every sentence submitted, in order (what the reply says)."""
        self.spoken = 0
        """How many of :attr:`texts` were spoken whole (their audio written)."""
        self.on_failure: Callable[[BaseException], Awaitable[bool]] | None = None
        """Asked before a failure ends the reply; True: a fallback continues it
        (fallback_tts.py)."""
        self.done = False
        """True once the terminal events were sent."""

    def start_streaming(self) -> None:
        """``synthesize-start``: the client waits for audio from now on, so silence fills any
        gap (:class:`GapFiller`); connect early (:meth:`open_early`)."""
        self._filler.start()
        self.open_early()

    def open_early(self) -> None:
        """Start connecting now, before the first sentence exists: the aura WebSocket
        handshake, or a pooled HTTP connection for REST, is then off the path to the first
        audio."""
        if self._use_websocket:
            if self._opening is None:
                self._opening = asyncio.create_task(
                    self._connect_websocket(), name=f"open {self.model.short_name}"
                )
        elif self._opening is None:
            self._opening = asyncio.create_task(self._preconnect())

    async def _preconnect(self) -> SpeakSession | None:
        await self.client.preconnect()
        return None

    # ------------------------------------------------------------------ text in

    async def add_text(self, text: str) -> None:
        """Add text; every sentence it completes is submitted for synthesis right away.

        Text that runs on for :data:`MAX_PENDING_CHARS` without a sentence end (a list, an
        unpunctuated LLM reply) is submitted up to its last space, so speech starts and the
        buffer stays bounded. In a stream, a finished sentence held back by the detector is
        spoken after :data:`TEXT_PAUSE_S` without more text.
        """
        self._cancel_pause_timer()
        async with self._text_lock:
            await self._add_text(text)
        detector = self._detector
        pending = (detector.current_sentence + detector.remaining_text).strip()
        if self.streaming and not self.done and SENTENCE_END.search(pending):
            self._pause_timer = asyncio.get_running_loop().call_later(
                TEXT_PAUSE_S, self._on_text_pause
            )

    def _cancel_pause_timer(self) -> None:
        if self._pause_timer is not None:
            self._pause_timer.cancel()
            self._pause_timer = None

    def _on_text_pause(self) -> None:
        self._pause_timer = None
        self._pause_task = asyncio.create_task(self._speak_held_back(), name="tts text pause")

    async def _speak_held_back(self) -> None:
        """The text paused: submit what the detector holds back (a finished sentence)."""
        async with self._text_lock:
            pending = self._detector.finish().strip()
            self._detector = SentenceBoundaryDetector()
            if pending:
                _LOGGER.debug("Text paused: speaking the held-back sentence now")
                try:
                    await self._submit(pending)
                except Exception as err:  # a bug: end the reply like a failed sentence
                    with contextlib.suppress(ConnectionError):
                        await self._conclude(err)

    async def _add_text(self, text: str) -> None:
        for sentence in self._detector.add_chunk(text):
            await self._submit(sentence)
        detector = self._detector
        if len(detector.current_sentence) + len(detector.remaining_text) > MAX_PENDING_CHARS:
            pending = detector.finish()
            head, _, tail = pending.rpartition(" ")
            if not head.strip():
                head, tail = pending, ""
            self._detector = SentenceBoundaryDetector()
            await self._submit(head.strip())
            for sentence in self._detector.add_chunk(tail):
                await self._submit(sentence)

    async def finish(self) -> None:
        """Submit the remaining text, wait for all audio, send the terminal events."""
        self._cancel_pause_timer()
        async with self._text_lock:
            rest = self._detector.finish()
            if rest:
                await self._submit(rest)
        if self.done:
            return
        while (worker := self._worker) is not None:
            self._jobs.put_nowait(_END)
            await asyncio.wait({worker})
            if self._worker is worker:  # not replaced by a fallback's worker meanwhile
                break
        if not self.streaming and self.sentences == 0:
            await self._conclude(BadRequestError("Nothing to synthesize: empty text", EMPTY_TEXT))
        else:
            await self._conclude(None)
            if self.streaming and self._speak is not None and self.settings.spare_websockets:
                # Conversations continue: the next reply finds its WebSocket open.
                spares_for(self.client).prepare(self.voice)
        await self.aclose()

    async def _submit(self, text: str) -> None:
        """Submit a complete sentence; one longer than the model takes per request
        (``max_text_chars``) goes as several pieces, split at spaces."""
        limit = self.model.max_text_chars
        for piece in split_text(text, limit) if limit and len(text) > limit else [text]:
            await self._submit_sentence(piece)

    async def _submit_sentence(self, sentence: str) -> None:
        if self.done:
            return
        self.sentences += 1
        self.texts.append(sentence)
        _LOGGER.debug("Sentence %d (%s): %s", self.sentences, self.voice.name, sentence)
        try:
            stream = await self._start_sentence(sentence)
        except (WorkersAIError, BadRequestError, TimeoutError) as err:
            await self._conclude(err)
            return
        if stream is None:  # grouped into the WebSocket flush that follows the current one
            return
        if self._worker is None:
            self._worker = asyncio.create_task(self._play(), name=f"tts {self.voice.name}")
        self._jobs.put_nowait(stream)

    async def _start_sentence(self, sentence: str) -> PcmStream | None:
        """Start synthesizing ``sentence``; returns the stream its audio will come from, or
        ``None`` when it joins the group of the next WebSocket flush."""
        if self._use_websocket:
            try:
                speak = await self._open_websocket()
            except WorkersAIError as err:
                if not _use_rest_fallback(err):
                    raise
                _LOGGER.warning("%s WebSocket failed (%s); using REST", self.model.model_id, err)
                self._use_websocket = False
            else:
                if self._ws_busy:
                    self._group.append(sentence)
                    return None
                self._ws_busy = True
                try:
                    speak = await self._flush_or_reopen(speak, sentence)
                except BaseException:
                    self._ws_busy = False
                    raise
                return self._websocket_audio(speak, sentence)
        task = asyncio.create_task(self._rest_synthesize(sentence))
        self._rest_tasks.add(task)
        task.add_done_callback(self._rest_tasks.discard)
        return self._rest_audio(task)

    # ------------------------------------------------------------------ backends

    async def _rest_synthesize(self, sentence: str) -> audio.PcmAudio:
        async with self._rest_slots:
            return await self.client.synthesize_pcm(
                self.model.model_id,
                sentence,
                speaker=self.voice.speaker,
                language=self.voice.language,
                sample_rate=TTS_WEBSOCKET_SAMPLE_RATE_HZ,
            )

    async def _rest_audio(self, task: asyncio.Task[audio.PcmAudio]) -> PcmStream:
        result = await task
        yield result.pcm, result.sample_rate
        self.spoken += 1

    # ------------------------------------------------------------------ audio out

    async def _play(self) -> None:
        """Forward each sentence's audio in order until :meth:`finish` ends the queue."""
        try:
            while (stream := await self._jobs.get()) is not _END:
                async for pcm, rate in stream:
                    if self.done:
                        return
                    await self._audio.pcm(pcm, rate)
        except ConnectionError as err:
            _LOGGER.debug("Cannot write audio events: %s", err)
            self.done = True
        except Exception as err:  # Workers AI failure, timeout, or a bug: the reply ends here
            with contextlib.suppress(ConnectionError):
                await self._conclude(err)

    async def _conclude(self, err: BaseException | None, *, logged: bool = False) -> None:
        """Send ``error`` (if ``err``) and the terminal events; once per reply."""
        if err is not None and self.on_failure is not None and await self.on_failure(err):
            return
        async with self._conclude_lock:
            if self.done:
                return
            self.done = True
            await self._filler.aclose()
            if err is not None:
                failure = describe_failure(err)
                if logged:
                    pass
                elif failure.code == INTERNAL_ERROR:
                    _LOGGER.error("Synthesis failed", exc_info=err)
                else:
                    _LOGGER.warning("Synthesis with %s failed: %s", self.voice.name, failure.text)
                await self._write(failure.event().event())
            if self._audio.started or not self.streaming:
                await self._audio.stop()
            if self.streaming:
                await self._write(SynthesizeStopped().event())
        if err is not None:
            await self._cancel_pending()

    async def abort(self, err: BaseException, *, logged: bool = False) -> None:
        """Fail the reply: ``error`` and terminal events (unless already sent), stop all work.

        ``logged``: the caller already logged ``err``.
        """
        await self._conclude(err, logged=logged)
        await self.aclose()

    async def _cancel_pending(self) -> None:
        for task in list(self._rest_tasks):
            task.cancel()
        worker = self._worker
        if worker is not None and worker is not asyncio.current_task() and not worker.done():
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def aclose(self) -> None:
        """Cancel everything still running and close the WebSocket (idempotent)."""
        self.done = True
        await self._filler.aclose()
        self._cancel_pause_timer()
        pause = self._pause_task
        if pause is not None and pause is not asyncio.current_task() and not pause.done():
            pause.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pause
        await self._cancel_pending()
        opening = self._opening
        if opening is not None:
            opening.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await opening  # also retrieves a failed handshake's error
        try:
            await self._stack.aclose()
        except Exception:  # closing must never fail the connection
            _LOGGER.debug("Error while closing the %s stream", self.model.short_name, exc_info=True)
