"""Speech-to-text of one utterance: ``audio-start`` … ``audio-stop`` → transcript events.

Two ways to reach Workers AI:

- :class:`StreamingUtterance` (nova-3, flux): the WebSocket opens at ``audio-start``, audio goes
  out as it arrives (the client frames it and sends ``KeepAlive`` while idle), finalized text
  becomes ``transcript-chunk`` deltas while the user still speaks, and ``audio-stop`` sends
  Finalize/CloseStream (https://developers.deepgram.com/docs/finalize,
  https://developers.deepgram.com/docs/close-stream). Flux ends the utterance itself at
  ``EndOfTurn``: the ``transcript`` goes out at once and the rest of the audio is ignored.
- :class:`BufferedUtterance` (Whisper models, or nova-3 with streaming off): audio is collected
  and uploaded once at ``audio-stop`` by ``WorkersAIClient.transcribe_pcm``.

Every failure (Workers AI error, timeout, dropped WebSocket, bad audio) sends a Wyoming ``error``
and then the partial or empty ``transcript``: Home Assistant ignores ``error`` and would wait for
a ``transcript`` forever (wyoming-protocol-and-servers.md §1.10, §2.3).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass

from .protocol import PcmFormat
from .request_errors import INTERNAL_ERROR, UNKNOWN_MODEL, BadRequestError, describe_failure
from .settings import STT_SAMPLE_RATE_HZ, ServerSettings
from .transcripts import TranscriptEvents, WriteEvent
from .workers_ai import WorkersAIClient, audio, catalog
from .workers_ai.errors import StreamClosedError, WorkersAIError
from .workers_ai.results import Transcription
from .workers_ai.streaming import ListenSession

_LOGGER = logging.getLogger(__name__)


def resolve_asr_model(name: str | None, default: str) -> catalog.SpeechModel:
    """The ASR model for a ``transcribe`` ``name`` (full ID or short name; ``None`` = default).

    Raises:
        BadRequestError: code ``unknown-model`` when ``name`` is not a Workers AI ASR model.
    """
    if name is None:
        return catalog.get_model(default)
    try:
        model = catalog.get_model(name)
    except KeyError:
        model = None
    if model is None or model.task is not catalog.Task.ASR:
        known = ", ".join(m.model_id for m in catalog.ASR_MODELS)
        raise BadRequestError(f"Unknown speech-to-text model '{name}' (use {known})", UNKNOWN_MODEL)
    return model


@dataclass(frozen=True, slots=True)
class UtteranceRequest:
    """What to transcribe with: model, language tag (normalized) and key terms to boost."""

    model: catalog.SpeechModel
    language: str
    keyterms: tuple[str, ...] = ()
    initial_prompt: str | None = None
    """whisper-large-v3-turbo's prompt with the same names (other models ignore it)."""


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
        if full:
            _LOGGER.info(
                "Utterance reached its limit (%g s of audio or %d bytes): finishing it",
                self._max_seconds,
                self.settings.limits.max_utterance_bytes,
            )
        return pcm, full

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
        _LOGGER.info("Transcript (%s): %s", self.request.model.short_name, result.text)
        await self.events.finish(result.text, result.language or self.request.language)

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
        TLS handshakes."""
        if self._warming is None:
            self._warming = asyncio.create_task(self.client.preconnect())

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


class StreamingUtterance(Utterance):
    """nova-3 / flux over the WebSocket, with live ``transcript-chunk`` deltas.

    A background *pump* task reads the session's updates and sends each newly finalized piece
    of text as a chunk. The ``transcript`` is sent exactly once, by whichever comes first:
    flux ``EndOfTurn`` (pump), ``audio-stop`` (:meth:`stop`), ``max_utterance_seconds`` of
    flux audio, or a failure (either side).
    """

    def __init__(
        self,
        client: WorkersAIClient,
        request: UtteranceRequest,
        settings: ServerSettings,
        write: WriteEvent,
    ) -> None:
        """See :class:`Utterance`."""
        super().__init__(client, request, settings, write)
        self._stack = contextlib.AsyncExitStack()
        self._session: ListenSession | None = None
        self._pump: asyncio.Task[None] | None = None
        self._stopping = False
        self._final_lock = asyncio.Lock()
        self._opening: asyncio.Task[ListenSession] | None = None

    def prepare(self) -> None:
        """Start opening the WebSocket now (``transcribe``), before the audio."""
        if self._opening is None:
            self._opening = asyncio.create_task(
                self._connect(), name=f"open {self.request.model.short_name}"
            )

    async def _connect(self) -> ListenSession:
        flux = self.settings.flux
        async with asyncio.timeout(self.settings.stream_timeout):
            return await self._stack.enter_async_context(
                self.client.listen(
                    self.request.model.model_id,
                    sample_rate=STT_SAMPLE_RATE_HZ,
                    language=self.request.language,
                    interim_results=True,
                    keyterms=self.request.keyterms,
                    eot_threshold=flux.eot_threshold,
                    eager_eot_threshold=flux.eager_eot_threshold,
                    eot_timeout_ms=flux.eot_timeout_ms,
                )
            )

    async def start(self) -> None:
        """Finish opening the WebSocket (linear16 at 16 kHz, interim results on; begun by
        :meth:`prepare`) and start the pump."""
        self.prepare()
        assert self._opening is not None
        try:
            self._session = await self._opening
        except (WorkersAIError, TimeoutError) as err:
            await self.fail(err)
            await self.aclose()
            return
        self._pump = asyncio.create_task(
            self._run_pump(self._session), name=f"{self.request.model.short_name} transcript pump"
        )

    def _partial_text(self, err: BaseException | None = None) -> str:
        """What was heard before a failure: the session's partial text, else sent chunks."""
        if isinstance(err, StreamClosedError) and err.partial_text:
            return err.partial_text
        if self._session is not None and self._session.text:
            return self._session.text
        return self.events.sent_text

    async def audio(self, pcm: bytes, fmt: PcmFormat) -> None:
        """Convert and forward to the WebSocket; at the utterance limit, finish the utterance."""
        if self.done or self._session is None:
            return
        pcm, full = self._admit(pcm, fmt)
        data = await self._convert(pcm, fmt)
        if not data:
            if full:
                await self._finish()
            return
        try:
            async with asyncio.timeout(self.settings.stream_timeout):
                await self._session.send_audio(data)
        except (WorkersAIError, TimeoutError) as err:
            async with self._final_lock:
                await self.fail(err, self._partial_text(err))
            await self.aclose()
            return
        if full:
            # Nobody ended the utterance (no flux EndOfTurn; HA does not cut the audio when
            # requires_external_vad is False): finish it as if audio-stop had come.
            await self._finish()

    async def abort(self, err: BaseException) -> None:
        """Fail from outside the request: ``error`` + what was heard so far, once."""
        async with self._final_lock:
            await self.fail(err, self._partial_text(), logged=True)

    async def _drain_pump(self) -> None:
        """Wait until the pump has forwarded every update (bounded by ``stream_timeout``)."""
        if self._pump is None or self._pump.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._pump), self.settings.stream_timeout)
        except TimeoutError:
            self._pump.cancel()

    async def _conclude(self, session: ListenSession) -> None:
        """Ask the session for its final transcript and send it, or the failure; once."""
        try:
            result = await session.finish(timeout=self.settings.stream_timeout)
        except (WorkersAIError, TimeoutError) as err:
            async with self._final_lock:
                await self.fail(err, self._partial_text(err))
            return
        async with self._final_lock:
            if not self.done:
                await self._send_final(result)

    async def _run_pump(self, session: ListenSession) -> None:
        """Forward finalized text as chunks; conclude at flux ``EndOfTurn`` or an early close."""
        try:
            async for update in session.updates():
                _LOGGER.debug("Hypothesis (final=%s): %s", update.is_final, update.text)
                if update.is_final:
                    async with self._final_lock:
                        await self.events.extend_to(update.text)
                if self.done:
                    return
                if session.end_of_turn.is_set():
                    # Flux decided the turn is over: answer now, ignore audio until audio-stop.
                    await self._conclude(session)
                    return
            if not self._stopping:
                # The stream ended before audio-stop (dropped or closed by Workers AI).
                await self._conclude(session)
        except ConnectionError as err:
            _LOGGER.debug("Cannot write transcript events: %s", err)
        except Exception as err:  # a bug: still end the utterance properly
            with contextlib.suppress(ConnectionError):
                async with self._final_lock:
                    await self.fail(err, self.events.sent_text)

    async def stop(self) -> None:
        """``audio-stop``: Finalize/CloseStream, then the final transcript events."""
        await self._finish()
        await self.aclose()

    async def _finish(self) -> None:
        """End the audio (Finalize/CloseStream) and send the final transcript events, unless
        the transcript already went out."""
        self._stopping = True
        session = self._session
        if session is None or self.done:
            return
        remaining = self._flush_converter()
        try:
            # The whole wait after audio-stop is one budget (--request-deadline).
            async with asyncio.timeout(self.settings.request_deadline):
                if remaining:
                    with contextlib.suppress(WorkersAIError):
                        await session.send_audio(remaining)
                result = await session.finish(timeout=self.settings.stream_timeout)
        except (WorkersAIError, TimeoutError) as err:
            async with self._final_lock:
                await self.fail(err, self._partial_text(err))
            return
        await self._drain_pump()  # chunks of the last updates go before the transcript
        async with self._final_lock:
            if not self.done:
                await self._send_final(result)

    async def aclose(self) -> None:
        """Stop the pump and close the WebSocket (idempotent; called from the handler task)."""
        pump = self._pump
        if pump is not None and not pump.done():
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        opening = self._opening
        if opening is not None and not opening.done():
            opening.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await opening
        try:
            await self._stack.aclose()
        except Exception:  # closing must never fail the connection
            _LOGGER.debug(
                "Error while closing the %s stream", self.request.model.short_name, exc_info=True
            )


def create_utterance(
    client: WorkersAIClient, request: UtteranceRequest, settings: ServerSettings, write: WriteEvent
) -> Utterance:
    """The utterance handler for ``request.model``: streaming for flux (always) and nova-3
    (unless ``settings.stt_streaming`` is off), buffered REST otherwise."""
    model = request.model
    if not model.rest or (model.websocket and settings.stt_streaming):
        return StreamingUtterance(client, request, settings, write)
    return BufferedUtterance(client, request, settings, write)
