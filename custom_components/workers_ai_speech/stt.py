"""Speech-to-text entities: Workers AI ASR models behind Home Assistant's Assist pipeline.

Streaming models (nova-3, flux) get the audio over the Workers AI WebSocket while the user speaks
(workers-ai-speech-api.md §4.5, §4.6); the final transcript is ready as soon as the stream ends.
Whisper models get one upload when the stream ends (§4.1-4.3).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, override

from homeassistant.components import stt
from homeassistant.components.stt.models import SpeechAudioProcessing
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from wyoming_server.workers_ai import ListenSession, catalog
from wyoming_server.workers_ai.errors import AuthenticationError, WorkersAIError

from .const import CONF_LANGUAGE, STT_SAMPLE_RATE, SUBENTRY_STT
from .entity import WorkersAIEntity
from .languages import stt_request_language, stt_supported_languages
from .models import WorkersAIConfigEntry
from .usage import STT, timed_stream

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

MAX_TURN_SECONDS = 15.0
"""Seconds of audio after which a flux turn is closed without ``EndOfTurn``.

Flux decides the end of speech itself, so Home Assistant does not segment its stream; this
mirrors the 15 s timeout of Home Assistant's own voice command segmenter
(home-assistant-2026.10.md §1.3) so a silent or noisy stream cannot run forever.
"""

_BYTES_PER_SECOND = STT_SAMPLE_RATE * 2


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WorkersAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one speech-to-text entity per ``stt`` subentry."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_STT:
            async_add_entities(
                [WorkersAISpeechToTextEntity(entry, subentry)],
                config_subentry_id=subentry.subentry_id,
            )


class WorkersAISpeechToTextEntity(WorkersAIEntity, stt.SpeechToTextEntity):
    """Transcribes 16 kHz 16-bit mono PCM with one Workers AI ASR model."""

    _attr_translation_key = "speech_to_text"

    def __init__(self, entry: WorkersAIConfigEntry, subentry: ConfigSubentry) -> None:
        """Take the model and language setting from the subentry."""
        super().__init__(entry, subentry)
        self._language_setting: str = subentry.data[CONF_LANGUAGE]
        self._supported_languages = stt_supported_languages(self.model, self._language_setting)
        # Flux ends the turn itself (EndOfTurn); the others rely on Home Assistant's VAD.
        self._audio_processing = SpeechAudioProcessing(
            requires_external_vad=self.model.model_id != catalog.FLUX,
            prefers_auto_gain_enabled=True,
            prefers_noise_reduction_enabled=True,
        )

    @property
    @override
    def supported_languages(self) -> list[str]:
        """The pinned language, or every language of the model with automatic detection."""
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
        AI fails; a rejected API token also starts re-authentication.
        """
        language = stt_request_language(self._language_setting, metadata.language)
        ended: list[float] = []
        stream = timed_stream(stream, ended.append)
        budget = self.entry.runtime_data.budget
        try:
            if budget is not None and (fallback := budget.stt_fallback(self.model.model_id)):
                text = await self._async_transcribe_batch(stream, language, fallback)
            elif self.model.websocket:
                text = await self._async_transcribe_streaming(stream, language)
            else:
                text = await self._async_transcribe_batch(stream, language)
        except AuthenticationError as err:
            _LOGGER.error("Workers AI rejected the API token: %s", err)  # noqa: TRY400
            self.entry.async_start_reauth(self.hass)
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        except WorkersAIError as err:
            _LOGGER.error("Speech-to-text with %s failed: %s", self.model.model_id, err)  # noqa: TRY400
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        if ended and (usage := self.entry.runtime_data.usage) is not None:
            usage.async_latency(STT, time.monotonic() - ended[0])
        return stt.SpeechResult(text, stt.SpeechResultState.SUCCESS)

    def _vocabulary(self, model_id: str | None = None) -> dict[str, Any]:
        """``keyterms`` / ``initial_prompt`` of the home's vocabulary for the model."""
        vocabulary = self.entry.runtime_data.vocabulary
        model_id = model_id or self.model.model_id
        return vocabulary.request_options(model_id) if vocabulary else {}

    async def _async_transcribe_batch(
        self, stream: AsyncIterable[bytes], language: str | None, model_id: str | None = None
    ) -> str:
        """Collect the whole utterance, then upload it once (Whisper models).

        The client uploads one file (FLAC by default, workers-ai-speech-api.md §4.1-4.3).
        """
        pcm = bytearray()
        async for chunk in stream:
            pcm.extend(chunk)
        if not pcm:
            return ""
        model_id = model_id or self.model.model_id  # another one when over budget
        result = await self.entry.runtime_data.client.transcribe_pcm(
            model_id, bytes(pcm), STT_SAMPLE_RATE, language=language, **self._vocabulary(model_id)
        )
        return result.text

    async def _async_transcribe_streaming(
        self, stream: AsyncIterable[bytes], language: str | None
    ) -> str:
        """Send audio over the WebSocket while it arrives; finish at the end of the stream.

        For flux the turn also ends at the model's ``EndOfTurn`` (or after
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
            upload = asyncio.create_task(self._async_upload(session, stream))
            end_of_turn = asyncio.create_task(session.end_of_turn.wait())
            try:
                await asyncio.wait((upload, end_of_turn), return_when=asyncio.FIRST_COMPLETED)
                if upload.done():
                    upload.result()  # raise what the upload raised
            finally:
                for task in (upload, end_of_turn):
                    task.cancel()
                await asyncio.gather(upload, end_of_turn, return_exceptions=True)
            result = await session.finish()
        return result.text

    async def _async_upload(self, session: ListenSession, stream: AsyncIterable[bytes]) -> None:
        """Forward audio chunks to the session until the stream or the turn budget ends."""
        iterator: AsyncIterator[bytes] = aiter(stream)
        sent = 0
        limit = int(MAX_TURN_SECONDS * _BYTES_PER_SECOND)
        try:
            async for chunk in iterator:
                await session.send_audio(chunk)
                sent += len(chunk)
                if sent >= limit and self.model.model_id == catalog.FLUX:
                    _LOGGER.debug("No end of turn after %s s of audio", MAX_TURN_SECONDS)
                    return
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
