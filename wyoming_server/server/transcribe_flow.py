"""The speech-to-text events of one Wyoming connection: ``transcribe`` and ``audio-*``.

Event flow: "Speech to Text" in the "Event Flow" of https://github.com/OHF-Voice/wyoming
(README): an optional ``transcribe`` (model name, language, key terms), then ``audio-start``,
``audio-chunk``*, ``audio-stop``; the answer is the transcript events of
:class:`.transcripts.TranscriptEvents`, ending with ``transcript`` (what Home Assistant waits
for: https://github.com/home-assistant/core/blob/dev/homeassistant/components/wyoming/stt.py).
Audio without ``transcribe`` uses the server's model and language. A failure sends ``error``
plus the (empty or partial) ``transcript``, then the rest of the utterance's audio is ignored up
to its ``audio-stop``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..workers_ai import WorkersAIClient, catalog
from ..workers_ai.catalog import FLUX
from . import protocol, vad_sensitivity
from .languages import check_language, supports
from .limits import BackendSlots, Slot
from .protocol import TranscribeRequest
from .request_errors import describe_failure
from .settings import ServerSettings
from .speak_spares import spares_for
from .stt import Utterance, UtteranceRequest, create_utterance, resolve_asr_model
from .transcripts import TranscriptEvents, WriteEvent
from .utterance import SpeechEnd
from .vocabulary import ServerVocabulary

if TYPE_CHECKING:
    from .breakers import TaskFailover

_LOGGER = logging.getLogger(__name__)

STT_EVENTS = frozenset({"transcribe", "audio-start", "audio-chunk", "audio-stop"})
"""The Wyoming event types this flow handles."""


class TranscribeFlow:
    """The utterances of one connection, one at a time (owned by its event handler)."""

    def __init__(
        self,
        write_event: WriteEvent,
        *,
        client: WorkersAIClient,
        settings: ServerSettings,
        slots: BackendSlots,
        vocabulary: ServerVocabulary,
        failover: TaskFailover | None = None,
    ) -> None:
        """``write_event`` sends one event to the client (the handler's, serialized);
        ``slots`` (the process-wide Workers AI request limit) and ``vocabulary`` are shared
        by all connections."""
        self._write_event = write_event
        self._client = client
        self._settings = settings
        self._slots = slots
        self._vocabulary = vocabulary
        self._slot: Slot | None = None
        self._request: UtteranceRequest | None = None
        self._utterance: Utterance | None = None
        self._prepared: Utterance | None = None  # connecting since transcribe
        self._discard_audio = False
        self._failover = failover

    @property
    def active(self) -> bool:
        """True from ``transcribe`` (or the first audio) until the utterance's ``audio-stop``."""
        return self._request is not None or self._utterance is not None or self._discard_audio

    def speech_end(self) -> tuple[str, SpeechEnd | None] | None:
        """The current utterance's model and end of speech (latency metric), if any."""
        utterance = self._utterance
        if utterance is None:
            return None
        return utterance.request.model.model_id, utterance.end_of_speech()

    def _utterance_request(self, request: TranscribeRequest) -> UtteranceRequest:
        """Resolve model, language and key terms; raises ``BadRequestError`` for an unknown
        model or a language the model cannot transcribe."""
        model = resolve_asr_model(request.name, self._settings.stt_model)
        tag = request.language or self._settings.language
        if request.name is None and model.model_id != FLUX and not supports(model, tag):
            # Home Assistant offers the languages of every listed model but never names one:
            # use the multilingual Whisper rather than fail. (Not with flux as the default:
            # Home Assistant then leaves the end of speech to the model, which REST cannot do.)
            fallback = catalog.get_model(catalog.STT_FALLBACK_MODEL)
            if supports(fallback, tag):
                _LOGGER.info(
                    "%s does not support %s: using %s", model.model_id, tag, fallback.model_id
                )
                model = fallback
        language = check_language(model, tag)
        vocabulary = self._vocabulary.current(request.terms)
        sensitivity = request.vad_sensitivity
        vad_sensitivity.note_library(sensitivity)
        flux, endpointing_ms = None, None
        if not vad_sensitivity.streams(model, streaming=self._settings.stt_streaming):
            vad_sensitivity.log_ignored(model, sensitivity)
        elif model.model_id == FLUX:
            flux = vad_sensitivity.flux_options(sensitivity, self._settings.flux)
        else:
            endpointing_ms = vad_sensitivity.nova3_endpointing_ms(sensitivity)
        return UtteranceRequest(
            model,
            language,
            vocabulary.keyterms,
            vocabulary.initial_prompt,
            flux=flux,
            endpointing_ms=endpointing_ms,
        )

    async def on_transcribe(self, request: TranscribeRequest) -> None:
        """``transcribe``: end any open utterance, then connect for the next one."""
        await self.close()
        self._discard_audio = False
        self._request = self._utterance_request(request)
        # Connect now (WebSocket, or a pooled HTTP connection), not at audio-start/audio-stop.
        self._prepared = create_utterance(
            self._client, self._request, self._settings, self._write_event, self._failover
        )
        self._prepared.prepare()

    async def _start_utterance(self, data: dict[str, Any]) -> Utterance:
        protocol.audio_format(data)  # validate before any network work
        request = self._request or self._utterance_request(TranscribeRequest())
        self._slot = await self._slots.acquire()
        utterance, self._prepared = self._prepared, None
        if utterance is None or utterance.request is not request:
            if utterance is not None:
                await utterance.aclose()
            utterance = create_utterance(
                self._client, request, self._settings, self._write_event, self._failover
            )
        self._utterance = utterance
        _LOGGER.debug("Utterance with %s (%s)", request.model.model_id, request.language)
        await utterance.start()
        return utterance

    async def on_audio_start(self, data: dict[str, Any]) -> None:
        """``audio-start``: start the utterance (a new one if one is open)."""
        if self._discard_audio:
            return
        utterance, self._utterance = self._utterance, None  # keep the prepared one
        if utterance is not None:
            await utterance.aclose()
        await self._start_utterance(data)

    async def on_audio_chunk(self, data: dict[str, Any], payload: bytes) -> None:
        """``audio-chunk``: PCM ``payload`` in the format ``data`` names (rate in Hz, width and
        channels); starts the utterance if ``audio-start`` was missing."""
        if self._discard_audio:
            return
        utterance = self._utterance or await self._start_utterance(data)
        if utterance.done:
            return  # transcript already sent (flux EndOfTurn or failure): ignore the rest
        fmt = protocol.audio_format(data)
        if payload:
            await utterance.audio(payload, fmt)

    async def on_audio_stop(self) -> None:
        """``audio-stop``: finish the utterance (its ``transcript``; an empty one without
        audio)."""
        if self._discard_audio:
            self._discard_audio = False
            self._request = None
            return
        utterance = self._utterance
        if utterance is None:
            await TranscriptEvents(self._write_event, None).finish("")  # no audio at all
        else:
            await utterance.stop()
            if self._settings.tts_streaming and self._settings.spare_websockets:
                # A voice command was spoken: its reply follows.
                spares_for(self._client).prepare(catalog.get_voice(self._settings.tts_voice))
        await self.close()
        self._request = None

    async def fail(self, err: BaseException, *, at_stop: bool) -> None:
        """``error`` + empty/partial ``transcript``; then ignore audio until ``audio-stop``
        (unless the failed event was that ``audio-stop``: ``at_stop``).

        The partial ``transcript`` keeps the text already sent as ``transcript-chunk``s, so the
        chunks still add up to it.
        """
        utterance = self._utterance
        if utterance is not None and not utterance.done:
            await utterance.fail(err, utterance.events.sent_text, logged=True)
        elif utterance is None:
            await self._write_event(describe_failure(err).event().event())
            await TranscriptEvents(self._write_event, None).finish("")
        else:
            await self._write_event(describe_failure(err).event().event())
        await self.close()
        self._request = None
        self._discard_audio = not at_stop

    async def abort(self, err: BaseException) -> bool:
        """Fail the open request with ``err`` (``error`` + ``transcript``), without closing
        it; returns whether the client was told."""
        utterance = self._utterance
        if utterance is not None and not utterance.done:
            await utterance.abort(err)
            return True
        if self._request is not None and utterance is None:
            await self._write_event(describe_failure(err).event().event())
            await TranscriptEvents(self._write_event, None).finish("")
            return True
        return False

    async def close(self) -> None:
        """End the utterance and the prepared one (closing their WebSockets), free the slot."""
        utterance, self._utterance = self._utterance, None
        prepared, self._prepared = self._prepared, None
        try:
            for pending in (utterance, prepared):
                if pending is not None:
                    await pending.aclose()
        finally:
            slot, self._slot = self._slot, None
            if slot is not None:
                slot.release()
