"""Text-to-speech failover: a reply Workers AI cannot finish continues on the fallback voice from
the first sentence not yet spoken.

:class:`FailoverReply` is a :class:`~.tts.SynthesisReply` that knows which sentences it was
given (``texts``) and how many were spoken whole (``spoken``: their audio written to the client).
When Workers AI fails with a failover trigger (``workers_ai.failover.is_failover_trigger``),
the Workers AI work still pending is cancelled and ``texts[spoken:]``, then every later
sentence, are spoken by the fallback (another Workers AI voice, or another Wyoming server such
as https://github.com/rhasspy/wyoming-piper): no sentence is lost and none spoken whole is
repeated (a sentence cut in the middle is spoken again from its start). The audio keeps the
format announced in ``audio-start``: the fallback's audio is converted to its rate (16-bit
mono). With the task's breaker open Workers AI is not asked at all. A fallback that fails too
ends the reply with ``error`` (code ``fallback-failed``) and the terminal events. Without a
fallback the reply only reports Workers AI's answers to the breaker, and while it is open
:class:`FailoverReply` refuses to start (``service-unavailable``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..workers_ai import WorkersAIClient, audio, catalog
from ..workers_ai.breaker import BreakerState
from ..workers_ai.failover import is_failover_trigger
from .breakers import BREAKER_OPEN, TaskFailover
from .fallback_engines import FallbackError, TtsEngine, TtsSession
from .fallback_stt import FALLBACK_FAILED
from .request_errors import BadRequestError, describe_failure
from .settings import TTS_WEBSOCKET_SAMPLE_RATE_HZ, ServerSettings
from .transcripts import WriteEvent
from .tts import SynthesisReply
from .tts_websocket import PcmStream

_LOGGER = logging.getLogger(__name__)


class FailoverReply(SynthesisReply):
    """Workers AI first; the fallback for the rest of the reply once Workers AI fails."""

    def __init__(
        self,
        client: WorkersAIClient,
        voice: catalog.Voice,
        settings: ServerSettings,
        write: WriteEvent,
        *,
        streaming: bool,
        failover: TaskFailover,
    ) -> None:
        """See :class:`~.tts.SynthesisReply`; ``failover`` is the process-wide ``tts`` state.

        Raises:
            BadRequestError: ``service-unavailable``, the breaker is open and there is no
                fallback.
        """
        allowed = failover.breaker.allow()
        if not allowed and not failover.has_fallback:
            raise failover.unavailable()
        super().__init__(client, voice, settings, write, streaming=streaming)
        self._failover = failover
        self._primary = allowed
        self._probe = self._primary and failover.breaker.state is BreakerState.HALF_OPEN
        self._handed_over = not self._primary
        self._trigger: BaseException | None = None
        self._reported = False
        self._engines: list[TtsEngine] = []
        self._sessions: dict[str, TtsSession] = {}
        self._counted = False
        self.spoken_by_fallback: list[str] = []
        """Sentences the fallback spoke (for logs and tests)."""
        if self._handed_over:
            self._use_websocket = False
            self._engines = self._failover.fallbacks_for(None)  # type: ignore[assignment]
        self.on_failure = self._take_over

    def _report(self, err: BaseException | None) -> None:
        if self._primary and not self._reported:
            self._reported = True
            self._failover.record(err)

    def open_early(self) -> None:
        """Connect Workers AI early (not with an open breaker)."""
        if not self._handed_over:
            super().open_early()

    async def _start_sentence(self, sentence: str) -> PcmStream | None:
        if self._handed_over:
            return self._fallback_audio(sentence)
        return await super()._start_sentence(sentence)

    async def _take_over(self, err: BaseException) -> bool:
        """Workers AI failed: continue on the fallback when ``err`` is a failover trigger."""
        if self._handed_over or self.done:
            return False
        self._report(err)
        if not is_failover_trigger(err) or not self._failover.has_fallback:
            return False
        self._handed_over, self._trigger = True, err
        self._engines = self._failover.fallbacks_for(err)  # type: ignore[assignment]
        rest = self.texts[self.spoken :]
        _LOGGER.warning(
            "Synthesis with %s failed after %d of %d sentence(s) (%s): the fallback speaks on",
            self.voice.name,
            self.spoken,
            len(self.texts),
            describe_failure(err).text,
        )
        await self._stop_workers_ai()
        self._jobs = asyncio.Queue()
        for text in rest:
            self._jobs.put_nowait(self._fallback_audio(text))
        self._worker = asyncio.create_task(self._play(), name=f"tts fallback {self.voice.name}")
        return True

    async def _stop_workers_ai(self) -> None:
        """Cancel Workers AI's pending sentences and close its WebSocket."""
        self._use_websocket = False
        self._group.clear()
        for task in list(self._rest_tasks):
            task.cancel()
        worker = self._worker
        if worker is not None and worker is not asyncio.current_task() and not worker.done():
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        opening = self._opening
        if opening is not None and not opening.done():
            opening.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await opening
        self._speak = None
        with contextlib.suppress(Exception):
            await self._stack.aclose()

    def _count(self, fallback: str) -> None:
        if not self._counted:
            self._counted = True
            err = self._trigger
            reason = BREAKER_OPEN if err is None else describe_failure(err).code
            self._failover.count(reason, fallback)

    async def _fallback_audio(self, text: str) -> PcmStream:
        """``text`` on the first fallback that speaks it, at the reply's rate."""
        target = self._audio.rate or TTS_WEBSOCKET_SAMPLE_RATE_HZ
        errors: list[str] = []
        while self._engines:
            engine = self._engines[0]
            session = self._sessions.get(engine.name)
            if session is None:
                session = self._sessions[engine.name] = engine.session()
            converter: audio.PcmConverter | None = None
            try:
                async for pcm, rate, width, channels in session.speak(text):
                    if converter is None:
                        converter = audio.PcmConverter(rate, width, channels, target)
                    out = await converter.aconvert(pcm)
                    if out:
                        yield out, target
            except FallbackError as err:
                _LOGGER.warning("Fallback %s failed: %s", engine.name, err)
                errors.append(str(err))
                if converter is not None:  # audio of this sentence went out: no other voice
                    break
                self._engines.pop(0)
                continue
            if converter is not None:
                tail = converter.flush()
                if tail:
                    yield tail, target
            self._count(engine.name)
            self.spoken += 1
            self.spoken_by_fallback.append(text)
            _LOGGER.debug("Fallback %s spoke: %s", engine.name, text)
            return
        self._count("failed")
        trigger = self._trigger
        cause = "the breaker is open" if trigger is None else describe_failure(trigger).text
        detail = "; ".join(errors) or "no fallback for this failure"
        message = f"Text to speech failed: {cause}; fallback: {detail}"
        raise BadRequestError(message, FALLBACK_FAILED)

    async def _conclude(self, err: BaseException | None, *, logged: bool = False) -> None:
        await super()._conclude(err, logged=logged)
        if self.done and not self._handed_over:
            self._report(err)

    async def aclose(self) -> None:
        """Close Workers AI's stream and the fallback's connections; settle the probe."""
        await super().aclose()
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.aclose()
        if self._probe and not self._reported:
            # The client left before Workers AI answered the probe: no evidence either way,
            # but the next request must be able to probe.
            self._reported = True
            self._failover.breaker.release()
