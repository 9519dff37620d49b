"""Text-to-speech entities: Workers AI aura and MeloTTS models.

Aura models stream: text is split into sentences and spoken over the aura WebSocket, and the
linear16 audio is passed on as WAV while it arrives (workers-ai-speech-api.md §5.4). A whole
message goes through the REST API as MP3 (§5.1-5.3). MeloTTS is REST only and has no speakers:
the language picks its voice (§5.5).
"""

import asyncio
import io
import logging
import time
import wave
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, override

from homeassistant.components.tts import ATTR_VOICE, TextToSpeechEntity, TtsAudioType, Voice
from homeassistant.components.tts.entity import TTSAudioRequest, TTSAudioResponse
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from sentence_stream import SentenceBoundaryDetector

from wyoming_server.workers_ai import catalog
from wyoming_server.workers_ai.audio import pcm_to_wav
from wyoming_server.workers_ai.errors import AuthenticationError, WorkersAIError

from .budget import fallback_speech, fallback_stream
from .const import (
    CONF_LANGUAGE,
    CONF_VOICE,
    DOMAIN,
    SIGNAL_VOICE_SELECTED,
    SUBENTRY_TTS,
    TTS_WEBSOCKET_SAMPLE_RATE,
)
from .entity import WorkersAIEntity
from .models import WorkersAIConfigEntry
from .usage import TTS

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

SENTENCE_SCHEDULE = (1, 3)
"""Sentences per synthesis request: the first alone (fast first audio), then up to three, then
everything available (the schedule of Home Assistant's ElevenLabs integration). Aura's
WebSocket allows 20 flushes a minute (workers-ai-speech-api.md §2.3)."""

TEXT_IDLE_TIMEOUT = 60.0
"""Seconds to wait for more text of a streamed message before ending its audio.

Home Assistant 2026.10.4's Assist pipeline ends the text stream only after the conversation
agent returns; when the agent fails after streaming began, the stream never ends and nothing
cancels the TTS task (assist_pipeline/default_pipeline.py). Without this bound the task and
its aura WebSocket would stay open forever."""

_EXTENSIONS = {"audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav", "audio/x-wav": "wav"}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WorkersAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one text-to-speech entity per ``tts`` subentry."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_TTS:
            async_add_entities(
                [WorkersAITextToSpeechEntity(entry, subentry)],
                config_subentry_id=subentry.subentry_id,
            )


def wav_header(sample_rate: int) -> bytes:
    """A mono 16-bit WAV header with 0 frames, for audio of unknown length that follows."""
    with io.BytesIO() as buffer:
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(sample_rate)
        return buffer.getvalue()


async def sentence_batches(message_gen: AsyncIterator[str]) -> AsyncGenerator[str]:
    """Yield the text of ``message_gen`` as whole sentences, batched by SENTENCE_SCHEDULE.

    Text chunks may end anywhere (LLM deltas); sentences are found with ``sentence-stream``.
    Sentences that arrive while a batch is being spoken are joined into the next batch.
    Ends (and closes ``message_gen``) when no text arrives for :data:`TEXT_IDLE_TIMEOUT` s.
    """
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def _read() -> None:
        detector = SentenceBoundaryDetector()
        try:
            async for chunk in message_gen:
                for sentence in detector.add_chunk(chunk):
                    if sentence.strip():
                        queue.put_nowait(sentence.strip())
            if rest := detector.finish().strip():
                queue.put_nowait(rest)
        finally:
            queue.put_nowait(None)

    reader = asyncio.create_task(_read())
    schedule = list(SENTENCE_SCHEDULE)
    done = False
    try:
        while not done:
            try:
                async with asyncio.timeout(TEXT_IDLE_TIMEOUT):
                    first = await queue.get()
            except TimeoutError:
                _LOGGER.warning("No text for %s s: ending the speech here", TEXT_IDLE_TIMEOUT)
                return
            if first is None:
                break
            batch = [first]
            limit = schedule.pop(0) if schedule else None
            while not queue.empty() and (limit is None or len(batch) < limit):
                sentence = queue.get_nowait()
                if sentence is None:
                    done = True
                    break
                batch.append(sentence)
            yield " ".join(batch)
        await reader  # propagate an error of the text stream
    finally:
        if not reader.done():
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


class WorkersAITextToSpeechEntity(WorkersAIEntity, TextToSpeechEntity):
    """Speaks with one Workers AI TTS model; aura voices are selectable."""

    _attr_translation_key = "text_to_speech"
    _voice: str | None = None
    _voices: list[Voice]

    def __init__(self, entry: WorkersAIConfigEntry, subentry: ConfigSubentry) -> None:
        """Take model, language and default voice from the subentry (or the voice select)."""
        super().__init__(entry, subentry)
        self._attr_supported_languages = list(self.model.languages)
        self._attr_default_language = subentry.data[CONF_LANGUAGE]
        self._speakers = list(self.model.speakers)
        if self._speakers:
            self._attr_supported_options = [ATTR_VOICE]
            self._set_voice(
                entry.runtime_data.selected_voices.get(
                    subentry.subentry_id, subentry.data.get(CONF_VOICE) or ""
                )
            )
        else:
            self._attr_supported_options = []
            self._voices = []

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the voice select entity of the same subentry."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                SIGNAL_VOICE_SELECTED.format(self.subentry.subentry_id),
                self._async_voice_selected,
            )
        )
        # The select may have restored its choice between our creation and now.
        selected = self.entry.runtime_data.selected_voices.get(self.subentry.subentry_id)
        if self._speakers and selected:
            self._set_voice(selected)

    @callback
    def _async_voice_selected(self, voice: str) -> None:
        self._set_voice(voice)

    def _set_voice(self, voice: str) -> None:
        """Make ``voice`` the default: first in the voice list and in ``default_options``.

        ``default_options`` is part of Home Assistant's TTS cache key
        (home-assistant-2026.10.md §2.4), so a new voice is synthesized, not replayed.
        """
        if voice not in self._speakers:
            voice = self.model.default_speaker or self._speakers[0]
        self._voice = voice
        others = sorted(s for s in self._speakers if s != voice)
        self._voices = [self._describe(s) for s in (voice, *others)]
        self._attr_default_options = {ATTR_VOICE: voice}

    def _describe(self, speaker: str) -> Voice:
        return Voice(
            speaker,
            catalog.Voice(self.model.model_id, speaker, self.model.languages[0]).description,
        )

    @callback
    @override
    def async_get_supported_voices(self, language: str) -> list[Voice] | None:
        """Aura speakers, the selected one first; MeloTTS has none (its language decides)."""
        return self._voices or None

    @override
    def async_supports_streaming_input(self) -> bool:
        """Aura models stream over the WebSocket; MeloTTS is REST only."""
        return self.model.websocket

    def _speaker(self, options: dict[str, Any]) -> str | None:
        """The aura speaker for a request, or None for MeloTTS.

        Raises:
            HomeAssistantError: ``voice`` is not a speaker of this model.
        """
        if not self._speakers:
            return None
        speaker = options.get(ATTR_VOICE) or self._voice
        if speaker not in self._speakers:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="invalid_voice",
                translation_placeholders={"voice": str(speaker), "model": self.model.model_id},
            )
        return str(speaker)

    @override
    async def async_get_tts_audio(
        self, message: str, language: str, options: dict[str, Any]
    ) -> TtsAudioType:
        """Synthesize a whole message over REST.

        Returns ``("mp3", bytes)`` from one request; a message longer than one request takes
        (``max_text_chars``) is split at sentence ends into several requests and returned as
        ``("wav", bytes)`` (24 kHz mono), since MP3 files do not concatenate.

        Raises:
            HomeAssistantError: Workers AI failed or the voice is unknown.
        """
        speaker = self._speaker(options)
        client = self.entry.runtime_data.client
        if fallback := self._budget_fallback():
            return "wav", await fallback_speech(client, fallback, message, speaker, language)
        language_option = None if speaker else language
        limit = self.model.max_text_chars
        started = time.monotonic()
        try:
            if limit is not None and len(message.strip()) > limit:
                pcm = await client.synthesize_pcm(
                    self.model.model_id,
                    message,
                    speaker=speaker,
                    language=language_option,
                    sample_rate=TTS_WEBSOCKET_SAMPLE_RATE,
                )
                return "wav", pcm_to_wav(pcm.pcm, pcm.sample_rate)
            audio = await client.synthesize(
                self.model.model_id, message, speaker=speaker, language=language_option
            )
        except WorkersAIError as err:
            raise self._error(err) from err
        self._first_audio(started)
        content_type = audio.content_type.split(";", 1)[0].strip().lower()
        return _EXTENSIONS.get(content_type, "mp3"), audio.audio

    @override
    async def async_stream_tts_audio(self, request: TTSAudioRequest) -> TTSAudioResponse:
        """Speak text as it arrives over the aura WebSocket; returns WAV (24 kHz mono s16le).

        The WAV header comes first with 0 frames (length unknown), then PCM as it arrives.
        """
        speaker = self._speaker(request.options)
        if fallback := self._budget_fallback():
            client = self.entry.runtime_data.client
            return TTSAudioResponse(
                "wav",
                fallback_stream(client, fallback, request.message_gen, speaker, request.language),
            )
        return TTSAudioResponse("wav", self._async_stream_wav(request.message_gen, speaker))

    async def _async_stream_wav(
        self, message_gen: AsyncIterator[str], speaker: str | None
    ) -> AsyncGenerator[bytes]:
        client = self.entry.runtime_data.client
        yield wav_header(TTS_WEBSOCKET_SAMPLE_RATE)
        try:
            async with client.speak(
                self.model.model_id, speaker=speaker, sample_rate=TTS_WEBSOCKET_SAMPLE_RATE
            ) as session:
                started: float | None = None  # first text sent, until its first audio
                measured = False
                async for text in sentence_batches(message_gen):
                    started = started or time.monotonic()
                    await session.send_text(text)
                    async for pcm in session.flushed_audio():
                        if not measured:
                            self._first_audio(started)
                            measured = True
                        yield pcm
        except WorkersAIError as err:
            raise self._error(err) from err

    def _budget_fallback(self) -> str | None:
        """The cheaper model to use now (budget.py), or ``None``.

        Raises:
            HomeAssistantError: the daily budget is spent and requests are refused.
        """
        if (budget := self.entry.runtime_data.budget) is None:
            return None
        try:
            return budget.tts_fallback(self.model.model_id)
        except WorkersAIError as err:
            raise self._error(err) from err

    def _first_audio(self, started: float) -> None:
        """Record the time to first audio since ``started`` (``time.monotonic()``)."""
        if (usage := self.entry.runtime_data.usage) is not None:
            usage.async_latency(TTS, time.monotonic() - started)

    def _error(self, err: WorkersAIError) -> HomeAssistantError:
        """Log ``err``, start re-authentication for a rejected token, and wrap it."""
        _LOGGER.error("Text-to-speech with %s failed: %s", self.model.model_id, err)
        if isinstance(err, AuthenticationError):
            self.entry.async_start_reauth(self.hass)
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="tts_failed",
            translation_placeholders={"error": str(err)},
        )
