"""Speech-to-text failover: the utterance Workers AI could not transcribe is replayed WHOLE to a
fallback (another Workers AI model, another Wyoming server). Without a fallback the wrapper only
reports Workers AI's answers to the task's breaker (no recording; failures end as usual).

:class:`FailoverUtterance` wraps the Workers AI utterance (buffered or streaming). It keeps its
own copy of the converted audio (16 kHz s16le mono, bounded like the utterance by
``--max-audio-seconds`` and ``--max-utterance-bytes``), so the fallback hears everything said,
also on the streaming nova-3/flux paths where Workers AI got the audio live. When Workers AI
fails with a failover trigger (``workers_ai.failover.is_failover_trigger``) the transcript is
left to the fallback: at ``audio-stop`` (or the utterance limit) the recording is replayed. With
the task's breaker open Workers AI is not asked at all. If every fallback fails too, the client
gets ``error`` (code ``fallback-failed``) plus the ``transcript`` (what Workers AI had finalized
so far, else empty), as for any failure.

Text Workers AI already sent as ``transcript-chunk`` stays sent; the fallback's ``transcript``
is the text of the whole recording (Home Assistant reads only ``transcript``:
https://github.com/home-assistant/core/blob/dev/homeassistant/components/wyoming/stt.py).
"""

from __future__ import annotations

import logging
import time

from wyoming.error import Error

from ..workers_ai import WorkersAIClient
from ..workers_ai.breaker import BreakerState
from ..workers_ai.failover import is_failover_trigger
from .breakers import BREAKER_OPEN, TaskFailover
from .fallback_engines import FallbackError, SttEngine
from .protocol import PcmFormat
from .request_errors import describe_failure
from .settings import STT_SAMPLE_RATE_HZ, ServerSettings
from .transcripts import WriteEvent
from .utterance import SpeechEnd, Utterance, UtteranceRequest

_LOGGER = logging.getLogger(__name__)

FALLBACK_FAILED = "fallback-failed"
"""Wyoming error code: Workers AI and every fallback failed."""


class FailoverUtterance(Utterance):
    """Workers AI first (``primary``; ``None`` when the breaker is open), the fallbacks after."""

    def __init__(
        self,
        primary: Utterance | None,
        client: WorkersAIClient,
        request: UtteranceRequest,
        settings: ServerSettings,
        write: WriteEvent,
        *,
        failover: TaskFailover,
    ) -> None:
        """See :class:`Utterance`; ``failover`` is the process-wide ``stt`` state."""
        super().__init__(client, request, settings, write)
        self._primary = primary
        self._failover = failover
        self._recording = bytearray()
        self._audio_done = False
        self._reported = False
        self._trigger: BaseException | None = None
        self._handed_over = primary is None
        self._primary_closed = primary is None
        # stt.py asked breaker.allow() just before: True while HALF_OPEN means this is the probe.
        self._probe = primary is not None and failover.breaker.state is BreakerState.HALF_OPEN
        if primary is not None:
            self.events = primary.events
            primary.on_failure = self._primary_failed

    @property
    def done(self) -> bool:
        """True once a ``transcript`` was sent (by Workers AI or the fallback)."""
        return self.events.finished

    def end_of_speech(self) -> SpeechEnd | None:
        """Workers AI's end of speech while it is in charge (flux's ``EndOfTurn``), else ours."""
        if self._primary is not None and not self._handed_over:
            return self._primary.end_of_speech() or self.speech_end
        return self.speech_end

    @property
    def _forwarding(self) -> bool:
        return self._primary is not None and not self._handed_over and not self._primary.done

    async def _primary_failed(self, err: BaseException) -> bool:
        """Workers AI failed: take over when ``err`` is a failover trigger."""
        if self._handed_over:
            return True
        self._report(err)
        if not is_failover_trigger(err) or not self._failover.has_fallback:
            return False
        self._handed_over, self._trigger = True, err
        _LOGGER.warning(
            "Transcription with %s failed (%s): the fallback will transcribe the utterance",
            self.request.model.short_name,
            describe_failure(err).text,
        )
        return True

    def _report(self, err: BaseException | None) -> None:
        if not self._reported and self._primary is not None:
            self._reported = True
            self._failover.record(err)

    def prepare(self) -> None:
        """Connect Workers AI early (not with an open breaker)."""
        if self._forwarding:
            assert self._primary is not None
            self._primary.prepare()

    async def start(self) -> None:
        """Open the Workers AI stream (may hand over at once: cannot connect)."""
        if self._forwarding:
            assert self._primary is not None
            await self._primary.start()

    async def audio(self, pcm: bytes, fmt: PcmFormat) -> None:
        """Record (converted, bounded) and forward to Workers AI while it is in charge."""
        if self.done or self._audio_done:
            return
        pcm, full = self._admit(pcm, fmt)
        if self._failover.has_fallback:  # without one, only the breaker is served
            self._recording += await self._convert(pcm, fmt)
        if self._forwarding and pcm:
            assert self._primary is not None
            await self._primary.audio(pcm, fmt)
        if full:
            await self.stop()

    async def stop(self) -> None:
        """End of audio: Workers AI's transcript, else the fallback's."""
        if self._audio_done:
            return
        self._audio_done = True
        self._mark_speech_end("audio-stop")
        self._recording += self._flush_converter()
        if self._forwarding:
            assert self._primary is not None
            await self._primary.stop()
        if self._handed_over and not self.done:
            await self._close_primary()
            await self._replay()
        elif self.done and self._trigger is None:
            self._report(None)

    async def _replay(self) -> None:
        pcm = bytes(self._recording)
        self._recording.clear()
        if not pcm:
            await self.events.finish("")
            return
        err = self._trigger
        reason = BREAKER_OPEN if err is None else describe_failure(err).code
        errors: list[str] = []
        for engine in self._failover.fallbacks_for(err):
            stt: SttEngine = engine  # type: ignore[assignment]
            started = time.monotonic()
            try:
                text = await stt.transcribe(pcm, STT_SAMPLE_RATE_HZ, self.request.language)
            except FallbackError as fallback_err:
                _LOGGER.warning("Fallback %s failed: %s", stt.name, fallback_err)
                errors.append(str(fallback_err))
                continue
            self._failover.count(reason, stt.name)
            _LOGGER.info(
                "Transcript (fallback %s after %s, %d bytes at %d Hz, %.0f ms): %s",
                stt.name,
                reason,
                len(pcm),
                STT_SAMPLE_RATE_HZ,
                (time.monotonic() - started) * 1000,
                text,
            )
            await self.events.finish(text, self.request.language)
            return
        self._failover.count(reason, "failed")
        cause = "the breaker is open" if err is None else describe_failure(err).text
        detail = "; ".join(errors) or "no fallback for this failure"
        message = f"Speech to text failed: {cause}; fallback: {detail}"
        _LOGGER.warning("%s", message)
        await self._write(Error(text=message, code=FALLBACK_FAILED).event())
        await self.events.finish(self.events.sent_text)

    async def fail(
        self, err: BaseException, partial_text: str = "", *, logged: bool = False
    ) -> None:
        """A request error (bad audio, shutdown): no fallback; ``error`` + ``transcript``."""
        if self._forwarding:
            assert self._primary is not None
            self._primary.on_failure = None
            await self._primary.fail(err, partial_text, logged=logged)
            return
        saved, self.on_failure = self.on_failure, None
        await super().fail(err, partial_text, logged=logged)
        self.on_failure = saved

    async def _close_primary(self) -> None:
        if not self._primary_closed and self._primary is not None:
            self._primary_closed = True
            await self._primary.aclose()

    async def aclose(self) -> None:
        """Close Workers AI's stream, drop the recording; settle the breaker's probe."""
        await self._close_primary()
        self._recording.clear()
        if not self._reported and self._primary is not None:
            if self.done and self._trigger is None:
                self._report(None)
            elif self._probe:
                # A probe whose client left before Workers AI answered: no evidence either way,
                # but the next request must be able to probe.
                self._reported = True
                self._failover.breaker.release()
