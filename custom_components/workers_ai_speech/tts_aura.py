"""Aura text-to-speech (aura-1, aura-2-en, aura-2-es): streamed over the aura WebSocket.

Home Assistant always streams to an entity that implements ``async_stream_tts_audio``, even a
whole message (homeassistant/components/tts/__init__.py, ``_async_generate_tts_audio``, in
https://github.com/home-assistant/core), so this is aura's only path: text is split into
sentences and spoken over the WebSocket, and the linear16 audio is passed on as WAV while it
arrives, at the sample rate Home Assistant asks for when aura has it
(https://developers.deepgram.com/docs/tts-websocket).
"""

import contextlib
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
    TTSAudioRequest,
    TTSAudioResponse,
    Voice,
)
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import callback

from wyoming_server.workers_ai import catalog
from wyoming_server.workers_ai.errors import WorkersAIError
from wyoming_server.workers_ai.language_tags import base_language

from .budget import fallback_stream
from .const import (
    ATTR_SELECTED_VOICE,
    TTS_WEBSOCKET_SAMPLE_RATE,
    VOICE_FOLLOW_SELECT,
)
from .entity import stored_voice
from .failover import ServiceFailover
from .languages import base_languages
from .models import WorkersAIConfigEntry
from .tts_aura_link import AuraLink
from .tts_entity import WorkersAITTSEntity
from .tts_failover import async_failover_pcm
from .tts_sentences import sentence_batches
from .tts_silence import SilenceFiller

_LOGGER = logging.getLogger(__name__)

FOLLOW_SELECT_NAME = "Follow the voice select"


def wav_header(sample_rate: int) -> bytes:
    """A mono 16-bit WAV header with 0 frames, for audio of unknown length that follows."""
    with io.BytesIO() as buffer:
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(sample_rate)
        return buffer.getvalue()


class AuraTTSEntity(WorkersAITTSEntity):
    """Speaks with an aura model; its voice follows the service's voice select."""

    def __init__(
        self, entry: WorkersAIConfigEntry, subentry: ConfigSubentry, model: catalog.SpeechModel
    ) -> None:
        """The voices: "Follow the voice select", then the model's speakers."""
        super().__init__(entry, subentry, model)
        self._attr_supported_options = [
            ATTR_VOICE,
            ATTR_PREFERRED_FORMAT,
            ATTR_PREFERRED_SAMPLE_RATE,
            ATTR_PREFERRED_SAMPLE_CHANNELS,
        ]
        self._voices = [Voice(VOICE_FOLLOW_SELECT, FOLLOW_SELECT_NAME)] + [
            Voice(s, s.capitalize()) for s in sorted(model.speakers)
        ]

    @property
    @override
    def default_options(self) -> Mapping[str, Any]:
        """Follow the voice select; its current voice is part of Home Assistant's cache key."""
        return {
            ATTR_VOICE: VOICE_FOLLOW_SELECT,
            ATTR_SELECTED_VOICE: stored_voice(self.entry, self.subentry.subentry_id, self.model),
        }

    @callback
    @override
    def async_get_supported_voices(self, language: str) -> list[Voice] | None:
        """ "Follow the voice select" first (what a new pipeline stores), then the speakers in
        a fixed order."""
        if base_language(language) not in base_languages(self.model):
            return None
        return list(self._voices)

    def _speaker(self, options: Mapping[str, Any]) -> str:
        """The aura speaker for a request.

        "Follow the voice select" (or no voice) is the select's voice; a voice the model does
        not have (stored in a pipeline for another model) is the model's default speaker.
        """
        voice = options.get(ATTR_VOICE)
        if voice in (None, VOICE_FOLLOW_SELECT):
            return stored_voice(self.entry, self.subentry.subentry_id, self.model)
        if voice not in self.model.speakers:
            default = self.model.default_speaker or self.model.speakers[0]
            self._unknown_voice(voice, default)
            return default
        return str(voice)

    @override
    async def async_stream_tts_audio(self, request: TTSAudioRequest) -> TTSAudioResponse:
        """Speak text as it arrives over the aura WebSocket; returns WAV (mono s16le).

        Once audio has started, a pause in the text is filled with silence (tts_silence.py) so
        the satellite's stream never stops while the reply goes on. The sample rate is
        ``preferred_sample_rate`` when aura offers it, else 24 kHz. The WAV
        header comes first with 0 frames (length unknown), then PCM as it arrives. Over the
        daily budget, the fallback model speaks the whole message as one WAV.

        Raises:
            HomeAssistantError: over the budget with requests refused; while the audio is
                read: Workers AI failed, or the entry was unloaded.
        """
        speaker = self._speaker(request.options)
        if fallback := self._budget_fallback():  # over budget: the cheaper model, one WAV
            client = self.entry.runtime_data.long_text_client
            source = self._async_owned_stream(
                fallback_stream(client, fallback, request.message_gen, speaker, request.language)
            )
        else:
            rate = _int(request.options.get(ATTR_PREFERRED_SAMPLE_RATE))
            if rate not in catalog.AURA_WEBSOCKET_SAMPLE_RATES:
                rate = TTS_WEBSOCKET_SAMPLE_RATE
            pcm = self._async_stream_pcm(request.message_gen, speaker, rate, request.language)
            source = _prepend(wav_header(rate), self._async_owned_stream(pcm, SilenceFiller(rate)))
        return TTSAudioResponse("wav", source)

    async def _async_stream_pcm(
        self, message_gen: AsyncIterator[str], speaker: str, sample_rate: int, language: str
    ) -> AsyncGenerator[bytes]:
        """aura's PCM, sentence batch by sentence batch, on one :class:`AuraLink` (reopened
        after a long pause in the text); afterwards a spare WebSocket for the next reply.

        When Workers AI fails (failover.py), the failover entity speaks on from the first batch
        whose audio aura had not finished (a batch cut in the middle is said again whole), in
        the same PCM format; with the breaker open it speaks the whole reply.
        """
        runtime = self.entry.runtime_data
        key = (self.model.model_id, speaker, sample_rate)
        link = AuraLink(runtime.client, runtime.spares, key)
        failover = self._failover()
        attempt = failover.attempt() if failover else None
        pending: str | None = None  # the batch sent to aura whose audio is not complete
        async with contextlib.aclosing(
            sentence_batches(self.hass, message_gen, self.model.max_text_chars)
        ) as batches:
            if attempt is None or attempt.allowed:
                try:
                    started: float | None = None  # first text sent, until its first audio
                    measured = False
                    async for text in batches:
                        pending = text
                        started = started or time.monotonic()
                        async for pcm in link.speak(text):
                            if not measured:
                                self._first_audio(started)
                                measured = True
                            yield pcm
                        pending = None
                except WorkersAIError as err:
                    if attempt is None or not attempt.failed(err):
                        raise self._error(err) from err
                    self._error(err)  # logged; reauth or repair issue as without failover
                else:
                    if attempt is not None:
                        attempt.succeeded()
                    self._async_succeeded()
                    return
                finally:
                    await link.aclose()
                    if runtime.spares is not None:
                        runtime.spares.prepare(key)  # conversations continue
                    if attempt is not None:
                        attempt.cancelled()  # only if neither recorded (consumer went away)
            assert failover is not None
            async for pcm in self._async_failover_stream(
                failover, pending, batches, language, sample_rate
            ):
                yield pcm

    async def _async_failover_stream(
        self,
        failover: ServiceFailover,
        pending: str | None,
        batches: AsyncIterator[str],
        language: str,
        sample_rate: int,
    ) -> AsyncGenerator[bytes]:
        """``pending`` and the rest of ``batches`` spoken by the failover entity, one batch at
        a time, as PCM at ``sample_rate`` Hz.

        Raises:
            HomeAssistantError: no failover entity (breaker open), or it failed.
        """
        what = f"Text-to-speech with {self.model.model_id}"
        if failover.entity_id is None:
            raise failover.unavailable_error(what)
        _LOGGER.warning("%s: the failover entity %s speaks on", what, failover.entity_id)
        if pending is not None:
            yield await async_failover_pcm(
                self.hass, failover.entity_id, pending, language, sample_rate=sample_rate, what=what
            )
        async for text in batches:
            yield await async_failover_pcm(
                self.hass, failover.entity_id, text, language, sample_rate=sample_rate, what=what
            )


async def _prepend(first: bytes, rest: AsyncGenerator[bytes]) -> AsyncGenerator[bytes]:
    """``first``, then the chunks of ``rest`` (closed when this generator is)."""
    async with contextlib.aclosing(rest):
        yield first
        async for chunk in rest:
            yield chunk


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except TypeError, ValueError:
        return None
