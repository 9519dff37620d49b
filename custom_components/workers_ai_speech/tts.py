"""Text-to-speech entities: Workers AI aura and MeloTTS models.

Aura models stream (Home Assistant always streams to an entity that can): text is split into
sentences and spoken over the aura WebSocket, and the linear16 audio is passed on as WAV while
it arrives, at the sample rate Home Assistant asks for when aura has it
(https://developers.deepgram.com/docs/tts-websocket). MeloTTS is REST only and has no speakers:
the language picks its voice (https://developers.cloudflare.com/workers-ai/models/melotts/).
"""

import asyncio
import io
import logging
import time
import wave
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, override

# Core's integrations (elevenlabs) import TTSAudioRequest from the root; it is not in __all__.
from homeassistant.components.tts import (  # type: ignore[attr-defined]
    ATTR_PREFERRED_FORMAT,
    ATTR_PREFERRED_SAMPLE_CHANNELS,
    ATTR_PREFERRED_SAMPLE_RATE,
    ATTR_VOICE,
    TextToSpeechEntity,
    TTSAudioRequest,
    TTSAudioResponse,
    TtsAudioType,
    Voice,
)
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_LANGUAGE
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from sentence_stream import SentenceBoundaryDetector

from wyoming_server.workers_ai import catalog
from wyoming_server.workers_ai.audio import pcm_to_wav
from wyoming_server.workers_ai.errors import WorkersAIError

from .audio_format import audio_extension
from .budget import fallback_speech, fallback_stream
from .const import (
    ATTR_SELECTED_VOICE,
    DEADLINE,
    DOMAIN,
    SUBENTRY_TTS,
    TTS_WEBSOCKET_SAMPLE_RATE,
    VOICE_FOLLOW_SELECT,
)
from .entity import WorkersAIEntity, stored_voice, subentry_model
from .errors import async_handle_error
from .languages import base_language, base_languages, language_tags
from .models import WorkersAIConfigEntry
from .repairs import async_clear_quota_exceeded
from .usage import TTS

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

SENTENCE_SCHEDULE = (1, 3)
"""Sentences per synthesis request: the first alone (fast first audio), then up to three, then
everything available (the schedule of Home Assistant's ElevenLabs integration). Aura's
WebSocket allows 20 flushes a minute (https://developers.deepgram.com/docs/tts-ws-flush)."""

TEXT_IDLE_TIMEOUT = 60.0
"""Seconds to wait for more text of a streamed message before ending its audio.

Home Assistant 2026.10.4's Assist pipeline ends the text stream only after the conversation
agent returns; when the agent fails after streaming began, the stream never ends and nothing
cancels the TTS task (homeassistant/components/assist_pipeline/default_pipeline.py in
https://github.com/home-assistant/core). Without this bound the task and
its aura WebSocket would stay open forever."""

FOLLOW_SELECT_NAME = "Follow the voice select"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WorkersAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one text-to-speech entity per ``tts`` subentry."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_TTS and (model := subentry_model(subentry)):
            async_add_entities(
                [WorkersAITextToSpeechEntity(entry, subentry, model)],
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


async def sentence_batches(
    hass: HomeAssistant, message_gen: AsyncIterator[str]
) -> AsyncGenerator[str]:
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

    reader = hass.async_create_background_task(_read(), f"{DOMAIN} TTS text reader")
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
    """Speaks with one Workers AI TTS model; aura voices follow the service's voice select."""

    _attr_translation_key = "text_to_speech"

    def __init__(
        self, entry: WorkersAIConfigEntry, subentry: ConfigSubentry, model: catalog.SpeechModel
    ) -> None:
        """Languages from the model (every tag Home Assistant may send), default from the
        subentry."""
        super().__init__(entry, subentry, model)
        bases = base_languages(model)
        self._attr_supported_languages = language_tags(bases)
        configured = base_language(str(subentry.data.get(CONF_LANGUAGE) or bases[0]))
        self._attr_default_language = configured if configured in bases else bases[0]
        if model.speakers:
            self._attr_supported_options = [
                ATTR_VOICE,
                ATTR_PREFERRED_FORMAT,
                ATTR_PREFERRED_SAMPLE_RATE,
                ATTR_PREFERRED_SAMPLE_CHANNELS,
            ]
            self._voices = [Voice(VOICE_FOLLOW_SELECT, FOLLOW_SELECT_NAME)] + [
                Voice(s, s.capitalize()) for s in sorted(model.speakers)
            ]
        else:
            self._attr_supported_options = []
            self._voices = []

    @property
    @override
    def default_options(self) -> Mapping[str, Any] | None:
        """Follow the voice select; its current voice is part of Home Assistant's cache key."""
        if not self.model.speakers:
            return None
        return {
            ATTR_VOICE: VOICE_FOLLOW_SELECT,
            ATTR_SELECTED_VOICE: stored_voice(self.entry, self.subentry.subentry_id, self.model),
        }

    @callback
    @override
    def async_get_supported_voices(self, language: str) -> list[Voice] | None:
        """The voices: "Follow the voice select" first (what a new pipeline stores), then the
        speakers in a fixed order; None for MeloTTS (its language decides the voice)."""
        if not self._voices or base_language(language) not in base_languages(self.model):
            return None
        return list(self._voices)

    @override
    def async_supports_streaming_input(self) -> bool:
        """Aura models stream over the WebSocket; MeloTTS is REST only."""
        return self.model.websocket

    def _speaker(self, options: Mapping[str, Any]) -> str | None:
        """The aura speaker for a request (None for MeloTTS).

        "Follow the voice select" (or no voice) is the select's voice; a voice the model does
        not have (stored in a pipeline for another model) is the model's default speaker.
        """
        if not self.model.speakers:
            return None
        voice = options.get(ATTR_VOICE)
        if voice in (None, VOICE_FOLLOW_SELECT):
            return stored_voice(self.entry, self.subentry.subentry_id, self.model)
        if voice not in self.model.speakers:
            default = self.model.default_speaker or self.model.speakers[0]
            _LOGGER.warning(
                "%s has no voice %r (check the Assist pipeline's voice): speaking with %r",
                self.model.model_id,
                voice,
                default,
            )
            return default
        return str(voice)

    @override
    async def async_get_tts_audio(
        self, message: str, language: str, options: dict[str, Any]
    ) -> TtsAudioType:
        """Synthesize a whole message over REST (MeloTTS; Home Assistant streams to aura).

        Returns the audio with the extension its bytes show (MeloTTS answers WAV). A message
        longer than one request takes (``max_text_chars``, an announcement rather than a voice
        reply, so with the longer budgets) is split at sentence ends and returned as one WAV,
        since encoded files do not concatenate.

        Raises:
            HomeAssistantError: Workers AI failed.
        """
        speaker = self._speaker(options)
        runtime = self.entry.runtime_data
        limit = self.model.max_text_chars
        request_language = None if speaker else base_language(language)
        started = time.monotonic()
        try:
            if fallback := self._budget_fallback():  # over budget: the cheaper model
                return "wav", await fallback_speech(
                    runtime.long_text_client, fallback, message, speaker, language
                )
            if limit is not None and len(message.strip()) > limit:
                pcm = await runtime.long_text_client.synthesize_pcm(
                    self.model.model_id, message, speaker=speaker, language=request_language
                )
                data = pcm_to_wav(pcm.pcm, pcm.sample_rate)
            else:
                audio = await runtime.client.synthesize(
                    self.model.model_id, message, speaker=speaker, language=request_language
                )
                data = audio.audio
        except WorkersAIError as err:
            raise self._error(err) from err
        self._first_audio(started)
        self._async_succeeded()
        return audio_extension(data) or "mp3", data

    @override
    async def async_stream_tts_audio(self, request: TTSAudioRequest) -> TTSAudioResponse:
        """Speak text as it arrives over the aura WebSocket; returns WAV (mono s16le).

        The sample rate is ``preferred_sample_rate`` when aura offers it, else 24 kHz. The WAV
        header comes first with 0 frames (length unknown), then PCM as it arrives.
        """
        speaker = self._speaker(request.options)
        if fallback := self._budget_fallback():  # over budget: the cheaper model, one WAV
            client = self.entry.runtime_data.long_text_client
            return TTSAudioResponse(
                "wav",
                fallback_stream(client, fallback, request.message_gen, speaker, request.language),
            )
        rate = _int(request.options.get(ATTR_PREFERRED_SAMPLE_RATE))
        if rate not in catalog.AURA_WEBSOCKET_SAMPLE_RATES:
            rate = TTS_WEBSOCKET_SAMPLE_RATE
        return TTSAudioResponse("wav", self._async_stream_wav(request.message_gen, speaker, rate))

    async def _async_stream_wav(
        self, message_gen: AsyncIterator[str], speaker: str | None, sample_rate: int
    ) -> AsyncGenerator[bytes]:
        client = self.entry.runtime_data.client
        yield wav_header(sample_rate)
        try:
            async with client.speak(
                self.model.model_id, speaker=speaker, sample_rate=sample_rate
            ) as session:
                started: float | None = None  # first text sent, until its first audio
                measured = False
                async for text in sentence_batches(self.hass, message_gen):
                    started = started or time.monotonic()
                    await session.send_text(text)
                    async for pcm in session.flushed_audio(timeout=DEADLINE):
                        if not measured:
                            self._first_audio(started)
                            measured = True
                        yield pcm
        except WorkersAIError as err:
            raise self._error(err) from err
        self._async_succeeded()

    @callback
    def _async_succeeded(self) -> None:
        async_clear_quota_exceeded(self.hass)

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
        """Log ``err``, act on it (reauth, repair issue), and wrap it for Home Assistant."""
        return async_handle_error(
            self.hass, self.entry, err, f"Text-to-speech with {self.model.model_id}"
        )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except TypeError, ValueError:
        return None
