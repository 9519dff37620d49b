"""MeloTTS text-to-speech: whole messages over REST, one voice per language.

MeloTTS has no speakers: its ``lang`` picks the voice, and Workers AI speaks only en, zh, ja and
ko (https://developers.cloudflare.com/workers-ai/models/melotts/; es and fr are refused). Home
Assistant calls ``async_get_tts_audio`` for an entity that does not stream.
"""

import time
from collections.abc import Mapping
from typing import Any, override

from homeassistant.components.tts import ATTR_VOICE, TtsAudioType, Voice
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import callback

from wyoming_server.workers_ai import catalog
from wyoming_server.workers_ai.audio import pcm_to_wav, sniff_container
from wyoming_server.workers_ai.errors import WorkersAIError
from wyoming_server.workers_ai.language_tags import base_language

from .budget import fallback_speech
from .entity import model_name
from .languages import base_languages, language_name
from .models import WorkersAIConfigEntry
from .tts_entity import WorkersAITTSEntity
from .tts_failover import async_failover_audio


class MeloTTSEntity(WorkersAITTSEntity):
    """Speaks with MeloTTS in the request's language."""

    def __init__(
        self, entry: WorkersAIConfigEntry, subentry: ConfigSubentry, model: catalog.SpeechModel
    ) -> None:
        """A voice may be named (Assist pipelines store one); the language decides."""
        super().__init__(entry, subentry, model)
        self._attr_supported_options = [ATTR_VOICE]

    @callback
    @override
    def async_get_supported_voices(self, language: str) -> list[Voice] | None:
        """Return the language's one voice, e.g. ``Voice("en", "MeloTTS English")``.

        The pipeline editor shows it (and a new pipeline stores it).
        """
        base = base_language(language)
        if base not in base_languages(self.model):
            return None
        return [Voice(base, f"{model_name(self.model)} {language_name(base)}")]

    def _language(self, language: str, options: Mapping[str, Any]) -> str:
        """Return MeloTTS's ``lang`` for a request: the language's base.

        A stored voice of another language or model (an aura voice, "Follow the voice select")
        is logged once, and the language's voice speaks.
        """
        base = base_language(language)
        voice = options.get(ATTR_VOICE)
        if voice is not None and voice != base:
            self._unknown_voice(voice, base)
        return base

    @override
    async def async_get_tts_audio(
        self, message: str, language: str, options: dict[str, Any]
    ) -> TtsAudioType:
        """Synthesize a whole message, with the extension its bytes show.

        MeloTTS answers WAV although its schema says MP3.

        A message longer than one request takes (``max_text_chars``, an announcement rather
        than a voice reply, so with the longer budgets) is split at sentence ends and returned
        as one WAV, since encoded files do not concatenate. Over the daily budget, the fallback
        model speaks it (WAV).

        Raises:
            HomeAssistantError: Workers AI failed, the budget is spent (requests refused), or
                the entry was unloaded meanwhile.
        """
        lang = self._language(language, options)
        fallback = self._budget_fallback()
        return await self._async_owned(self._async_speak(message, lang, language, fallback))

    async def _async_speak(
        self, message: str, lang: str, language: str, fallback: str | None
    ) -> tuple[str, bytes]:
        """Return MeloTTS's audio, or the failover entity's when Workers AI fails.

        The failover entity's audio (in its own format) also answers while the breaker is open
        (failover.py).

        Raises:
            WorkersAIError: Workers AI failed and there is no failover.
            HomeAssistantError: the breaker is open without a failover, or the failover failed.
        """
        failover = self._failover()
        attempt = failover.attempt() if failover else None
        if attempt is None or attempt.allowed:
            try:
                result = await self._async_synthesize(message, lang, fallback)
            except WorkersAIError as err:
                if attempt is None or not attempt.failed(err):
                    raise
                self._error(err)  # logged; reauth or repair issue as without failover
            else:
                if attempt is not None:
                    attempt.succeeded()
                return result
            finally:
                if attempt is not None:
                    attempt.cancelled()  # only if neither recorded
        assert failover is not None
        what = f"Text-to-speech with {self.model.model_id}"
        if failover.entity_id is None:
            raise failover.unavailable_error(what)
        return await async_failover_audio(self.hass, failover.entity_id, message, language, what)

    async def _async_synthesize(
        self, message: str, language: str, fallback: str | None
    ) -> tuple[str, bytes]:
        runtime = self.entry.runtime_data
        limit = self.model.max_text_chars
        started = time.monotonic()
        if fallback:
            data = await fallback_speech(
                runtime.long_text_client, fallback, message, None, language
            )
        elif limit is not None and len(message.strip()) > limit:
            pcm = await runtime.long_text_client.synthesize_pcm(
                self.model.model_id, message, language=language
            )
            data = pcm_to_wav(pcm.pcm, pcm.sample_rate)
        else:
            audio = await runtime.client.synthesize(self.model.model_id, message, language=language)
            data = audio.audio
        self._first_audio(started)
        self._async_succeeded()
        return sniff_container(data) or "mp3", data
