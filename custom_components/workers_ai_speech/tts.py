"""Text-to-speech platform: one entity per ``tts`` subentry, by the model's transport.

Aura models stream over the aura WebSocket (tts_aura.py); MeloTTS speaks whole messages over
REST (tts_melotts.py). Each entity implements only the path Home Assistant calls for it: the
streaming method for an entity that has one, ``async_get_tts_audio`` otherwise
(https://github.com/home-assistant/core/blob/dev/homeassistant/components/tts/__init__.py).
"""

from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import SUBENTRY_TTS
from .entity import subentry_model
from .models import WorkersAIConfigEntry
from .tts_aura import AuraTTSEntity
from .tts_entity import WorkersAITTSEntity
from .tts_melotts import MeloTTSEntity

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WorkersAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one text-to-speech entity per ``tts`` subentry (unique ID: the subentry's ID)."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_TTS and (model := subentry_model(subentry)):
            entity_class: type[WorkersAITTSEntity] = (
                AuraTTSEntity if model.websocket else MeloTTSEntity
            )
            async_add_entities(
                [entity_class(entry, subentry, model)], config_subentry_id=subentry.subentry_id
            )
