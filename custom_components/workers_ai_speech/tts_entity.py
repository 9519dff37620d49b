"""What every Workers AI text-to-speech entity shares.

Languages, the daily budget, errors, and speech work that unloading the entry stops.

Home Assistant consumes an entity's audio in a task of its own TTS manager
(https://github.com/home-assistant/core/blob/dev/homeassistant/components/tts/__init__.py),
which an unload does not cancel. So the entity synthesizes in tasks of its config entry and
cancels them when it is removed: a reply in progress then ends with an error at once instead of
running on with a WebSocket of an unloaded entry.
"""

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Coroutine
from typing import Any, override

from homeassistant.components.tts import TextToSpeechEntity
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_LANGUAGE
from homeassistant.core import callback
from homeassistant.exceptions import HomeAssistantError

from wyoming_server.workers_ai import catalog
from wyoming_server.workers_ai.errors import WorkersAIError
from wyoming_server.workers_ai.language_tags import base_language

from .const import DOMAIN
from .entity import WorkersAIEntity
from .errors import async_handle_error
from .failover import ServiceFailover
from .languages import base_languages, language_tags
from .models import WorkersAIConfigEntry
from .repairs import async_clear_quota_exceeded
from .tts_silence import SILENCE_INTERVAL_S, SilenceFiller
from .usage import TTS

_LOGGER = logging.getLogger(__name__)


class WorkersAITTSEntity(WorkersAIEntity, TextToSpeechEntity):
    """A text-to-speech service of one Workers AI model (subclassed per transport)."""

    _attr_translation_key = "text_to_speech"

    def __init__(
        self, entry: WorkersAIConfigEntry, subentry: ConfigSubentry, model: catalog.SpeechModel
    ) -> None:
        """Take the languages from the model and the default from the subentry.

        The model's languages in every tag Home Assistant may send.
        """
        super().__init__(entry, subentry, model)
        bases = base_languages(model)
        self._attr_supported_languages = language_tags(bases)
        configured = base_language(str(subentry.data.get(CONF_LANGUAGE) or bases[0]))
        self._attr_default_language = configured if configured in bases else bases[0]
        self._work: set[asyncio.Task[Any]] = set()
        self._unknown_voices: set[str] = set()

    @override
    async def async_will_remove_from_hass(self) -> None:
        """Stop the speech still being synthesized (entry unloaded): it ends with an error."""
        for work in list(self._work):
            work.cancel()
        await asyncio.gather(*self._work, return_exceptions=True)
        await super().async_will_remove_from_hass()

    def _start(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in a task of the entry that removing the entity cancels."""
        work = self.entry.async_create_background_task(
            self.hass, coro, f"{DOMAIN} text-to-speech {self.entity_id}"
        )
        self._work.add(work)
        work.add_done_callback(self._work.discard)
        return work

    def _stopped(self) -> HomeAssistantError:
        _LOGGER.warning("Text-to-speech stopped: the entity was removed (entry unloaded)")
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="request_failed",
            translation_placeholders={
                "what": f"Text-to-speech with {self.model.model_id}",
                "error": "the service was unloaded",
            },
        )

    async def _async_owned[T](self, coro: Coroutine[Any, Any, T]) -> T:
        """The result of ``coro``, run by :meth:`_start`.

        Raises:
            HomeAssistantError: the entity was removed meanwhile, Workers AI failed, or what
                ``coro`` raises.
        """
        work = self._start(coro)
        try:
            await asyncio.wait([work])
        finally:
            if not work.done():  # our caller was cancelled
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
        if work.cancelled():
            raise self._stopped()
        try:
            result: T = work.result()
        except WorkersAIError as err:
            raise self._error(err) from err
        return result

    async def _async_owned_stream(
        self, source: AsyncGenerator[bytes], silence: SilenceFiller | None = None
    ) -> AsyncGenerator[bytes]:
        """The chunks of ``source``, produced by :meth:`_start` while they are consumed.

        With ``silence`` (``source`` is PCM), once audio has started a wait for the next
        chunk longer than :data:`SILENCE_INTERVAL_S` yields silence instead of nothing.

        Raises:
            HomeAssistantError: the entity was removed meanwhile, Workers AI failed, or what
                ``source`` raises.
        """
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def pump() -> None:
            try:
                async for chunk in source:
                    queue.put_nowait(chunk)
            finally:
                queue.put_nowait(None)

        work = self._start(pump())
        try:
            while True:
                if silence is not None and silence.started:
                    try:
                        chunk = await asyncio.wait_for(queue.get(), SILENCE_INTERVAL_S)
                    except TimeoutError:
                        yield silence.silence()
                        continue
                else:
                    chunk = await queue.get()
                if chunk is None:
                    break
                if silence is not None:
                    silence.sent(chunk)
                yield chunk
            await asyncio.wait([work])
            if work.cancelled():
                raise self._stopped()
            try:
                work.result()
            except WorkersAIError as err:
                raise self._error(err) from err
        finally:
            if not work.done():  # the consumer went away (or was cancelled)
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)

    def _unknown_voice(self, voice: object, used: str) -> None:
        """Log once per voice that a request named a voice this model lacks."""
        if str(voice) not in self._unknown_voices:
            self._unknown_voices.add(str(voice))
            _LOGGER.warning(
                "%s has no voice %r (check the Assist pipeline's voice): speaking with %r",
                self.model.model_id,
                voice,
                used,
            )

    @callback
    def _async_succeeded(self) -> None:
        async_clear_quota_exceeded(self.hass)

    def _budget_fallback(self) -> str | None:
        """The cheaper model to use now (budget.py), or ``None``.

        Raises:
            HomeAssistantError: the daily budget is spent and requests are refused.
        """
        try:
            return self.entry.runtime_data.budget.tts_fallback(self.model.model_id)
        except WorkersAIError as err:
            raise self._error(err) from err

    def _failover(self) -> ServiceFailover | None:
        """The service's breaker and failover entity (failover.py)."""
        return self.entry.runtime_data.failovers.get(self.subentry.subentry_id)

    def _first_audio(self, started: float) -> None:
        """Record the time to first audio since ``started`` (``time.monotonic()``)."""
        self.entry.runtime_data.usage.async_latency(TTS, time.monotonic() - started)

    def _error(self, err: WorkersAIError) -> HomeAssistantError:
        """Log ``err``, act on it (reauth, repair issue), and wrap it for Home Assistant."""
        return async_handle_error(
            self.hass, self.entry, err, f"Text-to-speech with {self.model.model_id}"
        )
