"""Voice select entities: pick the aura speaker of a text-to-speech service.

The choice is kept across restarts (``RestoreEntity``) and pushed to the TTS entity of the same
subentry, which makes it its default voice (and so part of the TTS cache key).
"""

from dataclasses import dataclass
from typing import Any, Self, override

from homeassistant.components.select import SelectEntity
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity

from wyoming_server.workers_ai import catalog

from .const import CONF_MODEL, CONF_VOICE, DOMAIN, SIGNAL_VOICE_SELECTED, SUBENTRY_TTS
from .entity import WorkersAIEntity
from .models import WorkersAIConfigEntry

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WorkersAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a voice select for each ``tts`` subentry whose model has speakers (aura).

    A subentry reconfigured to a model without speakers (MeloTTS) loses its select: the
    registry entry is removed rather than left behind as an unavailable entity.
    """
    registry = er.async_get(hass)
    for subentry in entry.subentries.values():
        if subentry.subentry_type != SUBENTRY_TTS:
            continue
        if catalog.get_model(subentry.data[CONF_MODEL]).speakers:
            async_add_entities(
                [WorkersAIVoiceSelect(entry, subentry)], config_subentry_id=subentry.subentry_id
            )
        elif entity_id := registry.async_get_entity_id(
            Platform.SELECT, DOMAIN, _unique_id(subentry)
        ):
            registry.async_remove(entity_id)


def _unique_id(subentry: ConfigSubentry) -> str:
    return f"{subentry.subentry_id}-voice"


@dataclass
class VoiceExtraData(ExtraStoredData):
    """What is restored: the selected voice and the subentry's configured voice at that time."""

    voice: str
    configured_voice: str | None

    @override
    def as_dict(self) -> dict[str, Any]:
        return {"voice": self.voice, "configured_voice": self.configured_voice}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self | None:
        """Parse stored data; None if it is not ours."""
        voice = data.get("voice")
        configured = data.get("configured_voice")
        if not isinstance(voice, str) or not (configured is None or isinstance(configured, str)):
            return None
        return cls(voice, configured)


class WorkersAIVoiceSelect(WorkersAIEntity, SelectEntity, RestoreEntity):
    """The speaker a text-to-speech service uses when a request names no voice."""

    _attr_entity_category = EntityCategory.CONFIG
    _attr_translation_key = "voice"

    def __init__(self, entry: WorkersAIConfigEntry, subentry: ConfigSubentry) -> None:
        """Offer the model's speakers; start with the subentry's configured voice."""
        super().__init__(entry, subentry)
        self._attr_unique_id = _unique_id(subentry)
        self._attr_options = sorted(self.model.speakers)
        configured = subentry.data.get(CONF_VOICE)
        self._configured_voice: str | None = configured
        self._voice: str = (
            configured
            if configured in self._attr_options
            else self.model.default_speaker or self._attr_options[0]
        )
        self._attr_current_option = self._voice

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the last choice, unless the subentry's voice was reconfigured since."""
        await super().async_added_to_hass()
        extra = await self.async_get_last_extra_data()
        last = VoiceExtraData.from_dict(extra.as_dict()) if extra else None
        if (
            last is not None
            and last.voice in self.options
            and last.configured_voice == self._configured_voice
        ):
            self._voice = self._attr_current_option = last.voice
        self._publish()

    @property
    @override
    def extra_restore_state_data(self) -> VoiceExtraData:
        """Store the choice with the configured voice it was made against."""
        return VoiceExtraData(self._voice, self._configured_voice)

    @override
    async def async_select_option(self, option: str) -> None:
        """Use ``option`` as the TTS entity's default voice from now on."""
        self._voice = self._attr_current_option = option
        self._publish()
        self.async_write_ha_state()

    def _publish(self) -> None:
        """Hand the voice to the TTS entity of this subentry (now and after its setup)."""
        self.entry.runtime_data.selected_voices[self.subentry.subentry_id] = self._voice
        async_dispatcher_send(
            self.hass, SIGNAL_VOICE_SELECTED.format(self.subentry.subentry_id), self._voice
        )
