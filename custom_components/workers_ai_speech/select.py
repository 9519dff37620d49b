"""Voice select entities: the aura speaker of a text-to-speech service.

The select shows and changes the service's stored ``voice`` (its subentry data), the one source
of truth for the current voice: requests without a voice and Assist pipelines that store the
voice "Follow the voice select" (the default for a new pipeline) speak with it. Changing it does
not reload the entry.
"""

import logging
from typing import override

from homeassistant.components.select import SelectEntity
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from wyoming_server.workers_ai import catalog

from .const import CONF_VOICE, DOMAIN, SIGNAL_VOICE_CHANGED, SUBENTRY_TTS
from .entity import WorkersAIEntity, stored_voice, subentry_model
from .models import WorkersAIConfigEntry

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WorkersAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a voice select for each ``tts`` subentry whose model has speakers (aura).

    A service whose model has none has no select (MeloTTS has one voice per language, so
    nothing to choose); a select left from an earlier model is removed rather than left
    unavailable.
    """
    registry = er.async_get(hass)
    for subentry in entry.subentries.values():
        if subentry.subentry_type != SUBENTRY_TTS:
            continue
        model = subentry_model(subentry)
        if model is not None and model.speakers:
            async_add_entities(
                [WorkersAIVoiceSelect(entry, subentry, model)],
                config_subentry_id=subentry.subentry_id,
            )
        elif entity_id := registry.async_get_entity_id(
            Platform.SELECT, DOMAIN, _unique_id(subentry)
        ):
            registry.async_remove(entity_id)


def _unique_id(subentry: ConfigSubentry) -> str:
    return f"{subentry.subentry_id}-voice"


class WorkersAIVoiceSelect(WorkersAIEntity, SelectEntity):
    """The speaker a text-to-speech service uses unless a request names another one."""

    _attr_entity_category = EntityCategory.CONFIG
    _attr_translation_key = "voice"

    def __init__(
        self, entry: WorkersAIConfigEntry, subentry: ConfigSubentry, model: catalog.SpeechModel
    ) -> None:
        """Offer exactly the model's speakers, in a fixed (alphabetical) order."""
        super().__init__(entry, subentry, model)
        self._attr_unique_id = _unique_id(subentry)
        self._attr_options = sorted(model.speakers)
        stored = subentry.data.get(CONF_VOICE)
        if stored is not None and stored not in model.speakers:
            _LOGGER.warning(
                "%s has no voice %r: %s uses the model's default voice %r",
                model.model_id,
                stored,
                subentry.title,
                stored_voice(entry, subentry.subentry_id, model),
            )

    @property
    @override
    def current_option(self) -> str:
        """The service's stored voice."""
        return stored_voice(self.entry, self.subentry.subentry_id, self.model)

    @override
    async def async_added_to_hass(self) -> None:
        """Show a voice stored by the service's reconfigure form."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                SIGNAL_VOICE_CHANGED.format(self.subentry.subentry_id),
                self._async_voice_changed,
            )
        )

    @callback
    def _async_voice_changed(self) -> None:
        self.async_write_ha_state()

    @override
    async def async_select_option(self, option: str) -> None:
        """Store ``option`` as the service's voice; no reload (see the update listener)."""
        subentry = self.entry.subentries[self.subentry.subentry_id]
        self.hass.config_entries.async_update_subentry(
            self.entry, subentry, data={**subentry.data, CONF_VOICE: option}
        )
        self.async_write_ha_state()
