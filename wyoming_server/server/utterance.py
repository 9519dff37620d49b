"""One utterance, ``audio-start`` … ``audio-stop`` → transcript events: the common part, and
the buffered REST way (:class:`BufferedUtterance`: Whisper models, or nova-3 with streaming off;
audio is collected and uploaded once at ``audio-stop`` by ``WorkersAIClient.transcribe_pcm``).

Every failure (Workers AI error, timeout, dropped WebSocket, bad audio) sends a Wyoming ``error``
and then the partial or empty ``transcript`` (Home Assistant's Wyoming speech-to-text returns an
error result at the first ``error`` it reads, other clients wait for the ``transcript``:
https://github.com/home-assistant/core/blob/dev/homeassistant/components/wyoming/stt.py).
An utterance cut at its limit is not a failure: its ``transcript`` (the audio up to the limit)
comes first, then an ``error`` with code ``utterance-truncated``, then ``transcript-stop``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from wyoming.event import Event

from ..workers_ai import WorkersAIClient, audio, catalog
from ..workers_ai.errors import WorkersAIError
from ..workers_ai.results import Transcription
from .protocol import PcmFormat
from .request_errors import INTERNAL_ERROR, UTTERANCE_TRUNCATED, Failure, describe_failure
from .settings import STT_SAMPLE_RATE_HZ, FluxOptions, ServerSettings
from .transcripts import TranscriptEvents, WriteEvent

_LOGGER = logging.getLogger(__name__)

EndOfSpeech = Literal["audio-stop", "end-of-turn"]
FailureHook = Callable[[BaseException], Awaitable[bool]]
"""``on_failure(err)``: True when a fallback takes over the transcript (fallback_stt.py)."""


@dataclass(frozen=True, slots=True)
class SpeechEnd:
    """Where the wait for the transcript starts: the zero of the speech-to-text latency.

    ``kind`` is ``audio-stop`` when the audio stream ended (the client's ``audio-stop``, or the
    utterance limit): the client's voice activity detection decided that speech was over. It is
    ``end-of-turn`` when flux ended the turn itself with ``EndOfTurn`` before the stream ended;
    then ``at`` is when the audio up to the ``EndOfTurn``'s ``audio_window_end`` (the audio flux
    had heard when it decided, https://developers.cloudflare.com/workers-ai/models/flux/) had
    been received from the client. Either way the wait after it is what the model and the
    network add once the speech is known to be over.
    """

    at: float
    """``time.monotonic()``, seconds."""
    kind: EndOfSpeech


@dataclass(frozen=True, slots=True)
class UtteranceRequest:
    """What to transcribe with: model, language tag (normalized) and key terms to boost."""

    model: catalog.SpeechModel
    language: str
    keyterms: tuple[str, ...] = ()
    initial_prompt: str | None = None
    """whisper-large-v3-turbo's prompt with the same names (other models ignore it)."""
    flux: FluxOptions | None = None
    """flux's end-of-turn options for this utterance (``None``: the server's)."""
    endpointing_ms: int | None = None
    """nova-3's ``endpointing`` (ms) for this utterance (``None``: the Workers AI default)."""


class Utterance(ABC):
    """One utterance. Common part: conversion to 16 kHz mono, failure reporting, final events."""

    def __init__(
        self,
        client: WorkersAIClient,
        request: UtteranceRequest,
        settings: ServerSettings,
        write: WriteEvent,
    ) -> None:
        """Events go out through ``write`` (the connection's serialized writer)."""
        self.client = client
        self.request = request
        self.settings = settings
        self.events = TranscriptEvents(write, request.language)
        self._write = write
        self._converter: audio.PcmConverter | None = None
        self._format: PcmFormat | None = None
        self._input_bytes = 0
        self._input_seconds = 0.0
        self._max_seconds = settings.limits.max_audio_seconds
        if request.model.model_id == catalog.FLUX:
            self._max_seconds = min(self._max_seconds, settings.max_utterance_seconds)
        self.truncated = False
        """True once the utterance reached its limit (audio past it is not transcribed)."""
        self.speech_end: SpeechEnd | None = None
        """Set once, when the speech is over (see :class:`SpeechEnd`); ``None`` before."""
        self.on_failure: FailureHook | None = None
        """Asked before a failure is reported; True: a fallback answers instead."""

    def _mark_speech_end(self, kind: EndOfSpeech, at: float | None = None) -> None:
        """Note the end of speech (the first one counts); ``at`` defaults to now."""
        if self.speech_end is None and not self.done:
            self.speech_end = SpeechEnd(time.monotonic() if at is None else at, kind)

    def end_of_speech(self) -> SpeechEnd | None:
        """The end of speech the transcript waits on (latency metric), ``None`` before it."""
        return self.speech_end

    def wait_after_speech(self) -> float | None:
        """Seconds since :attr:`speech_end`, or ``None`` before it."""
        end = self.speech_end
        return None if end is None else time.monotonic() - end.at

    def _admit(self, pcm: bytes, fmt: PcmFormat) -> tuple[bytes, bool]:
        """Bound the utterance BEFORE any conversion: returns the part of ``pcm`` that fits in
        ``limits.max_audio_seconds`` (flux: also ``max_utterance_seconds``) and
        ``limits.max_utterance_bytes``, and whether the utterance is now full (then it ends as
        if ``audio-stop`` had come)."""
        frame = fmt.width * fmt.channels
        bytes_per_second = fmt.rate * frame
        seconds_left = self._max_seconds - self._input_seconds
        room = min(
            int(seconds_left * bytes_per_second),
            self.settings.limits.max_utterance_bytes - self._input_bytes,
        )
        room = max(0, room - room % frame)
        full = len(pcm) >= room
        if full:
            pcm = pcm[:room]
        self._input_bytes += len(pcm)
        self._input_seconds += len(pcm) / bytes_per_second
        if full and not self.truncated:
            self.truncated = True
            _LOGGER.warning(
                "Utterance with %s cut at its limit (%g s of audio or %d bytes): "
                "the audio after it is not transcribed",
                self.request.model.short_name,
                self._max_seconds,
                self.settings.limits.max_utterance_bytes,
            )
        return pcm, full

    def _limit_notice(self) -> Event | None:
        """The ``error`` (code ``utterance-truncated``) that follows the ``transcript`` of a
        cut utterance; ``None`` when the utterance was not cut."""
        if not self.truncated:
            return None
        text = (
            f"Audio cut after {self._input_seconds:.1f} s (limit {self._max_seconds:g} s): "
            "the transcript covers only the audio before it"
        )
        return Failure(text, UTTERANCE_TRUNCATED).event().event()

    @property
    def done(self) -> bool:
        """True once the ``transcript`` was sent; later audio is ignored."""
        return self.events.finished

    async def _convert(self, pcm: bytes, fmt: PcmFormat) -> bytes:
        """Convert a chunk to 16 kHz s16le mono, following format changes mid-stream (a large
        chunk in a worker thread)."""
        out = b""
        if fmt != self._format or self._converter is None:
            if self._converter is not None:
                out = self._converter.flush()
            self._format = fmt
            self._converter = audio.PcmConverter(
                fmt.rate, fmt.width, fmt.channels, STT_SAMPLE_RATE_HZ
            )
        return out + await self._converter.aconvert(pcm)

    def _flush_converter(self) -> bytes:
        return self._converter.flush() if self._converter is not None else b""

    async def fail(
        self, err: BaseException, partial_text: str = "", *, logged: bool = False
    ) -> None:
        """Send ``error`` then the ``transcript`` with ``partial_text`` (maybe empty); once.

        ``logged``: the caller already logged ``err``.
        """
        if self.done:
            return
        if self.on_failure is not None and await self.on_failure(err):
            return
        failure = describe_failure(err)
        if logged:
            pass
        elif failure.code == INTERNAL_ERROR:
            _LOGGER.error("Transcription failed", exc_info=err)
        else:
            _LOGGER.warning(
                "Transcription with %s failed: %s", self.request.model.model_id, failure.text
            )
        await self._write(failure.event().event())
        await self.events.finish(partial_text)

    async def abort(self, err: BaseException) -> None:
        """Fail from outside the request (server shutdown): ``error`` + partial ``transcript``."""
        await self.fail(err, self.events.sent_text, logged=True)

    async def _send_final(self, result: Transcription) -> None:
        wait, end = self.wait_after_speech(), self.speech_end
        if wait is not None and end is not None:
            _LOGGER.info(
                "Transcript (%s, %.0f ms after %s): %s",
                self.request.model.short_name,
                wait * 1000,
                end.kind,
                result.text,
            )
        else:
            _LOGGER.info("Transcript (%s): %s", self.request.model.short_name, result.text)
        await self.events.finish(
            result.text, result.language or self.request.language, self._limit_notice()
        )

    @abstractmethod
    def prepare(self) -> None:
        """Start connecting before the audio (``transcribe``); :meth:`start` finishes it."""

    @abstractmethod
    async def start(self) -> None:
        """Prepare for audio (``audio-start``)."""

    @abstractmethod
    async def audio(self, pcm: bytes, fmt: PcmFormat) -> None:
        """Take one ``audio-chunk`` payload of format ``fmt``."""

    @abstractmethod
    async def stop(self) -> None:
        """End of audio (``audio-stop``): send the final transcript events."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release network resources (idempotent): at the end or on disconnect."""


class BufferedUtterance(Utterance):
    """REST models: collect the utterance, upload it once at ``audio-stop``."""

    def __init__(
        self,
        client: WorkersAIClient,
        request: UtteranceRequest,
        settings: ServerSettings,
        write: WriteEvent,
    ) -> None:
        """See :class:`Utterance`."""
        super().__init__(client, request, settings, write)
        self._pcm = bytearray()
        self._warming: asyncio.Task[None] | None = None

    def prepare(self) -> None:
        """Open a pooled HTTP connection now, so the upload at ``audio-stop`` skips the TCP and
        TLS handshakes; load the FLAC encoder (PyAV, imported on first use: ~120 ms) while the
        user speaks, not after ``audio-stop``."""
        if self._warming is None:
            self._warming = asyncio.create_task(self._warm())

    async def _warm(self) -> None:
        if self.client.upload_format == "flac":
            await asyncio.gather(
                self.client.preconnect(), asyncio.to_thread(importlib.import_module, "av")
            )
        else:
            await self.client.preconnect()

    async def start(self) -> None:
        """Nothing to open but the connection (:meth:`prepare`): the upload is at
        ``audio-stop``."""
        self.prepare()

    async def audio(self, pcm: bytes, fmt: PcmFormat) -> None:
        """Convert and buffer; at the utterance limit, transcribe at once."""
        if self.done:
            return
        pcm, full = self._admit(pcm, fmt)
        self._pcm += await self._convert(pcm, fmt)
        if full:
            await self.stop()

    async def aclose(self) -> None:
        """Drop buffered audio."""
        self._pcm.clear()
        if self._warming is not None and not self._warming.done():
            self._warming.cancel()

    async def stop(self) -> None:
        """Upload the utterance (WAV or FLAC, the client's choice) and send the transcript."""
        if self.done:
            return
        self._mark_speech_end("audio-stop")
        pcm = bytes(self._pcm + self._flush_converter())
        self._pcm.clear()
        if not pcm:
            await self.events.finish("")
            return
        try:
            result = await self.client.transcribe_pcm(
                self.request.model.model_id,
                pcm,
                STT_SAMPLE_RATE_HZ,
                language=self.request.language,
                keyterms=self.request.keyterms,
                initial_prompt=self.request.initial_prompt,
            )
        except (WorkersAIError, TimeoutError) as err:
            await self.fail(err)
            return
        await self._send_final(result)
