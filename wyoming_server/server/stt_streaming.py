"""Streaming speech to text (nova-3, flux): audio goes out over the Workers AI WebSocket while
the user speaks.

The WebSocket opens at ``transcribe`` / ``audio-start``, audio goes out as it arrives (the client
frames it and sends ``KeepAlive`` while idle), finalized text becomes ``transcript-chunk`` deltas
while the user still speaks, and ``audio-stop`` sends Finalize/CloseStream
(https://developers.deepgram.com/docs/finalize,
https://developers.deepgram.com/docs/close-stream). Flux ends the utterance itself at
``EndOfTurn`` (https://developers.deepgram.com/docs/flux/state-machine): the ``transcript`` goes
out at once and the rest of the audio is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ..workers_ai import WorkersAIClient
from ..workers_ai.audio_receipts import AudioReceipts
from ..workers_ai.errors import StreamClosedError, WorkersAIError
from ..workers_ai.listen import ListenSession
from .protocol import PcmFormat
from .settings import STT_SAMPLE_RATE_HZ, ServerSettings
from .transcripts import WriteEvent
from .utterance import Utterance, UtteranceRequest

_LOGGER = logging.getLogger(__name__)

_BYTES_PER_SECOND = STT_SAMPLE_RATE_HZ * 2


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
        self._receipts = AudioReceipts()

    def prepare(self) -> None:
        """Start opening the WebSocket now (``transcribe``), before the audio."""
        if self._opening is None:
            self._opening = asyncio.create_task(
                self._connect(), name=f"open {self.request.model.short_name}"
            )

    async def _connect(self) -> ListenSession:
        flux = self.request.flux or self.settings.flux
        async with asyncio.timeout(self.settings.stream_timeout):
            return await self._stack.enter_async_context(
                self.client.listen(
                    self.request.model.model_id,
                    sample_rate=STT_SAMPLE_RATE_HZ,
                    language=self.request.language,
                    interim_results=True,
                    keyterms=self.request.keyterms,
                    endpointing_ms=self.request.endpointing_ms,
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
        received = time.monotonic()
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
        self._receipts.add(len(data) / _BYTES_PER_SECOND, received)
        if full:
            # Nobody ended the utterance (no flux EndOfTurn; HA does not cut the audio when
            # requires_external_vad is False): finish it as if audio-stop had come, and close
            # the WebSocket now rather than at the client's audio-stop (which may never come).
            await self._finish()
            await self.aclose()

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
                    self._mark_end_of_turn(session)
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

    def _mark_end_of_turn(self, session: ListenSession) -> None:
        """The end of speech is when the audio flux based its ``EndOfTurn`` on had arrived
        (nothing is noted when the message lacks ``audio_window_end``)."""
        position = session.end_of_turn_audio_end
        received = None if position is None else self._receipts.received_at(position)
        if received is not None:
            self._mark_speech_end("end-of-turn", received)
        else:
            _LOGGER.debug("EndOfTurn without audio_window_end: no latency to measure")

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
        self._mark_speech_end("audio-stop")
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
