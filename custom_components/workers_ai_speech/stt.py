"""Speech-to-text entities: Workers AI ASR models behind Home Assistant's Assist pipeline.

Streaming models (nova-3, flux) get the audio over the Workers AI WebSocket while the user speaks
(https://developers.cloudflare.com/workers-ai/models/nova-3/,
https://developers.cloudflare.com/workers-ai/models/flux/); the final transcript is ready as soon
as the stream ends. Whisper models get one upload when the stream ends.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, override

from homeassistant.components import stt

# Core's integrations import it from the root too; the root does not list it in __all__.
from homeassistant.components.stt import SpeechAudioProcessing  # type: ignore[attr-defined]
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_LANGUAGE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from wyoming_server.workers_ai import ListenSession, audio, catalog
from wyoming_server.workers_ai.errors import WorkersAIError

from .const import DOMAIN, LANGUAGE_AUTO, REQUEST_TIMEOUT, STT_SAMPLE_RATE, SUBENTRY_STT
from .entity import WorkersAIEntity, subentry_model
from .errors import async_handle_error
from .failover import ServiceFailover
from .languages import stt_request_language, stt_supported_languages
from .models import WorkersAIConfigEntry
from .repairs import async_clear_quota_exceeded
from .stt_failover import AudioTape, async_failover_transcribe
from .stt_limit import MAX_AUDIO_SECONDS, AudioLimit
from .usage import STT, SpeechTimer

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

MAX_TURN_SECONDS = 15.0
"""Seconds of audio after which a flux turn is closed without ``EndOfTurn``.

Flux decides the end of speech itself, so Home Assistant does not segment its stream; this
mirrors the 15 s timeout of Home Assistant's own voice command segmenter
(https://github.com/home-assistant/core/blob/dev/homeassistant/components/assist_pipeline/vad.py)
so a silent or noisy stream cannot run forever.
"""

_BYTES_PER_SECOND = STT_SAMPLE_RATE * 2


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WorkersAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one speech-to-text entity per ``stt`` subentry."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_STT and (model := subentry_model(subentry)):
            async_add_entities(
                [WorkersAISpeechToTextEntity(entry, subentry, model)],
                config_subentry_id=subentry.subentry_id,
            )


class WorkersAISpeechToTextEntity(WorkersAIEntity, stt.SpeechToTextEntity):
    """Transcribes 16 kHz 16-bit mono PCM with one Workers AI ASR model."""

    _attr_translation_key = "speech_to_text"

    def __init__(
        self, entry: WorkersAIConfigEntry, subentry: ConfigSubentry, model: catalog.SpeechModel
    ) -> None:
        """Take the model and language setting from the subentry."""
        super().__init__(entry, subentry, model)
        self._language_setting = str(subentry.data.get(CONF_LANGUAGE) or LANGUAGE_AUTO)
        self._supported_languages = stt_supported_languages(model, self._language_setting)
        # Flux ends the turn itself (EndOfTurn); the others rely on Home Assistant's VAD.
        # Cloud models are trained on untouched audio: like Home Assistant Cloud's speech
        # service, ask for no auto gain and no noise reduction (homeassistant/components/cloud/
        # stt.py in https://github.com/home-assistant/core).
        self._audio_processing = SpeechAudioProcessing(
            requires_external_vad=model.model_id != catalog.FLUX,
            prefers_auto_gain_enabled=False,
            prefers_noise_reduction_enabled=False,
        )
        self._streams: set[asyncio.Task[str]] = set()

    @property
    @override
    def supported_languages(self) -> list[str]:
        """Return every tag of the pinned language, or of every language the model detects.

        ``en``, ``en-US``, ``en-GB``...: automatic detection offers every language's tags.
        """
        return self._supported_languages

    @property
    @override
    def supported_formats(self) -> list[stt.AudioFormats]:
        """Raw PCM, nominally WAV (what the Assist pipeline sends)."""
        return [stt.AudioFormats.WAV]

    @property
    @override
    def supported_codecs(self) -> list[stt.AudioCodecs]:
        """PCM only."""
        return [stt.AudioCodecs.PCM]

    @property
    @override
    def supported_bit_rates(self) -> list[stt.AudioBitRates]:
        """16-bit samples only."""
        return [stt.AudioBitRates.BITRATE_16]

    @property
    @override
    def supported_sample_rates(self) -> list[stt.AudioSampleRates]:
        """16 kHz only."""
        return [stt.AudioSampleRates.SAMPLERATE_16000]

    @property
    @override
    def supported_channels(self) -> list[stt.AudioChannels]:
        """Mono only."""
        return [stt.AudioChannels.CHANNEL_MONO]

    @property
    @override
    def audio_processing(self) -> SpeechAudioProcessing:
        """Flux needs no external VAD: the model detects the end of the turn."""
        return self._audio_processing

    @override
    async def async_process_audio_stream(
        self, metadata: stt.SpeechMetadata, stream: AsyncIterable[bytes]
    ) -> stt.SpeechResult:
        """Transcribe ``stream`` (s16le mono 16 kHz PCM chunks) in ``metadata.language``.

        Returns ``SpeechResult(text, SUCCESS)``, or ``SpeechResult(None, ERROR)`` when Workers
        AI fails (a rejected API token also starts re-authentication, a spent daily
        allocation raises a repair issue).
        """
        language = stt_request_language(self._language_setting, metadata.language)
        limit = AudioLimit(
            stream,
            _BYTES_PER_SECOND,
            MAX_TURN_SECONDS if self.model.model_id == catalog.FLUX else MAX_AUDIO_SECONDS,
        )
        stream = limit
        budget = self.entry.runtime_data.budget
        try:
            fallback = budget.stt_fallback(self.model.model_id)
        except WorkersAIError as err:  # over budget, refused
            async_handle_error(
                self.hass, self.entry, err, f"Speech-to-text with {self.model.model_id}"
            )
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        failover = self.entry.runtime_data.failovers.get(self.subentry.subentry_id)
        attempt = failover.attempt() if failover else None
        if failover is not None and attempt is not None and not attempt.allowed:
            return await self._async_failover(failover, metadata, stream)  # breaker open
        # A copy of the audio for the failover entity, should Workers AI fail.
        tape = AudioTape(stream) if failover is not None and failover.entity_id else None
        stream = timer = SpeechTimer(tape.play() if tape else stream, _BYTES_PER_SECOND)
        try:
            if fallback:  # over budget: the cheaper (REST) model the user picked
                job = self._async_transcribe_batch(stream, language, fallback)
            elif self.model.websocket:
                job = self._async_transcribe_streaming(stream, language)
            else:
                job = self._async_transcribe_batch(stream, language)
            # Owned by the entry (cancelled when it unloads or Home Assistant stops); awaiting
            # it still passes our caller's cancellation on to it.
            work = self.entry.async_create_background_task(
                self.hass, job, f"{DOMAIN} speech-to-text {self.entity_id}"
            )
            self._streams.add(work)
            try:
                text = await work
            except asyncio.CancelledError:
                if attempt is not None:
                    attempt.cancelled()
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # our caller was cancelled
                _LOGGER.warning(
                    "Speech-to-text stopped: the entry unloaded or Home Assistant stopped"
                )
                return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
            except WorkersAIError as err:
                async_handle_error(
                    self.hass, self.entry, err, f"Speech-to-text with {self.model.model_id}"
                )
                if attempt is not None and attempt.failed(err) and tape and failover:
                    return await self._async_failover(failover, metadata, tape.replay())
                return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
            finally:
                self._streams.discard(work)
        finally:
            if tape is not None:
                await tape.aclose()
        if attempt is not None:
            attempt.succeeded()
        async_clear_quota_exceeded(self.hass)
        if limit.truncated:
            self._async_report_truncated(limit.max_seconds)
        ended = timer.speech_end  # the stream's end, or the audio flux's EndOfTurn was based on
        if ended is not None:
            self.entry.runtime_data.usage.async_latency(STT, time.monotonic() - ended)
        return stt.SpeechResult(text, stt.SpeechResultState.SUCCESS)

    async def _async_failover(
        self,
        failover: ServiceFailover,
        metadata: stt.SpeechMetadata,
        stream: AsyncIterable[bytes],
    ) -> stt.SpeechResult:
        """Return the failover entity's transcript of the whole ``stream`` (failover.py).

        An error result (logged) when there is none or it fails.
        """
        what = f"Speech-to-text with {self.model.model_id}"
        try:
            if failover.entity_id is None:
                raise failover.unavailable_error(what)
            return await async_failover_transcribe(
                self.hass, failover.entity_id, metadata, stream, what
            )
        except HomeAssistantError as err:
            _LOGGER.error("%s", err)  # noqa: TRY400 - the message says it all
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)

    def _async_report_truncated(self, max_seconds: float) -> None:
        """Warn and count an utterance cut at its limit (the text covers the audio up to it)."""
        _LOGGER.warning(
            "Speech-to-text with %s: audio cut after %g s; the rest was not transcribed",
            self.model.model_id,
            max_seconds,
        )
        if (usage := self.entry.runtime_data.usage) is not None:
            usage.async_truncated()

    def _vocabulary(self, model_id: str | None = None) -> dict[str, Any]:
        """``keyterms`` / ``initial_prompt`` of the home's vocabulary for the model."""
        vocabulary = self.entry.runtime_data.vocabulary
        model_id = model_id or self.model.model_id
        return vocabulary.request_options(model_id)

    @override
    async def async_will_remove_from_hass(self) -> None:
        """Stop the streams still running (entry unloaded): they end with an error result."""
        for work in list(self._streams):
            work.cancel()
        await asyncio.gather(*self._streams, return_exceptions=True)
        await super().async_will_remove_from_hass()

    async def _async_transcribe_batch(
        self, stream: AsyncIterable[bytes], language: str | None, model_id: str | None = None
    ) -> str:
        """Collect the whole utterance, then upload it once (Whisper models).

        The client uploads one file (FLAC by default, encoded off the event loop).
        """
        pcm = bytearray()
        async for chunk in stream:
            pcm.extend(chunk)
        if not pcm:
            return ""
        model_id = model_id or self.model.model_id  # another one when over budget
        flac = await self.hass.async_add_executor_job(
            audio.encode_flac, bytes(pcm), STT_SAMPLE_RATE
        )
        result = await self.entry.runtime_data.client.transcribe(
            model_id,
            flac,
            content_type="audio/flac",
            language=language,
            **self._vocabulary(model_id),
        )
        return result.text

    async def _async_transcribe_streaming(
        self, stream: AsyncIterable[bytes], language: str | None
    ) -> str:
        """Send audio over the WebSocket while it arrives; finish at the end of the stream.

        For flux the turn also ends at the model's ``EndOfTurn`` (the stream itself ends at
        :data:`MAX_TURN_SECONDS` of audio): the rest of the stream is then not read.
        """
        client = self.entry.runtime_data.client
        async with client.listen(
            self.model.model_id,
            sample_rate=STT_SAMPLE_RATE,
            language=language,
            interim_results=False,  # Home Assistant's STT API has no use for interim text
            **self._vocabulary(),
        ) as session:
            upload = self.hass.async_create_background_task(
                self._async_upload(session, stream), f"{DOMAIN} STT upload"
            )
            end_of_turn = self.hass.async_create_background_task(
                session.end_of_turn.wait(), f"{DOMAIN} STT end of turn"
            )
            try:
                await asyncio.wait((upload, end_of_turn), return_when=asyncio.FIRST_COMPLETED)
                if upload.done():
                    upload.result()  # raise what the upload raised
                elif isinstance(stream, SpeechTimer) and (
                    (window_end := session.end_of_turn_audio_end) is not None
                ):
                    stream.end_of_turn(window_end)  # the wait starts at the audio flux heard
            finally:
                for task in (upload, end_of_turn):
                    task.cancel()
                await asyncio.gather(upload, end_of_turn, return_exceptions=True)
            # One request's timeout, not the whole DEADLINE: closing the WebSocket (up to 1 s
            # when Workers AI does not answer) still comes before the user gets the result.
            result = await session.finish(timeout=REQUEST_TIMEOUT)
        return result.text

    async def _async_upload(self, session: ListenSession, stream: AsyncIterable[bytes]) -> None:
        """Forward audio chunks to the session until the stream or the turn budget ends."""
        iterator: AsyncIterator[bytes] = aiter(stream)
        try:  # the stream ends at the utterance's limit (AudioLimit)
            async for chunk in iterator:
                await session.send_audio(chunk)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
