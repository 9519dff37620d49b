"""Config entry migration: pipelines made before "Follow the voice select" existed.

Up to minor version 1 the TTS entity listed the select's voice first, so a pipeline created then
stored a speaker name and no longer followed the select. Minor version 2 lets such pipelines
follow it (a pipeline whose stored voice is the service's voice; other voices were picked on
purpose and are kept).
"""

import logging

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_when_setup

from .const import CONF_VOICE, DOMAIN, SUBENTRY_TTS, VOICE_FOLLOW_SELECT
from .models import WorkersAIConfigEntry

_LOGGER = logging.getLogger(__name__)


async def async_migrate_entry(hass: HomeAssistant, entry: WorkersAIConfigEntry) -> bool:
    """Migrate ``entry`` to version 1.2; refuse a newer major version."""
    if entry.version > 1:
        return False
    if entry.minor_version < 2:
        voices = {}
        registry = er.async_get(hass)
        for subentry in entry.subentries.values():
            entity_id = registry.async_get_entity_id(Platform.TTS, DOMAIN, subentry.subentry_id)
            if subentry.subentry_type == SUBENTRY_TTS and entity_id:
                voices[entity_id] = subentry.data.get(CONF_VOICE)

        async def _async_migrate_pipelines(hass: HomeAssistant, _component: str) -> None:
            from homeassistant.components import assist_pipeline  # noqa: PLC0415

            for pipeline in assist_pipeline.async_get_pipelines(hass):
                voice = voices.get(pipeline.tts_engine or "")
                if voice is not None and pipeline.tts_voice == voice:
                    _LOGGER.info("Pipeline %r now follows the voice select", pipeline.name)
                    await assist_pipeline.async_update_pipeline(
                        hass, pipeline, tts_voice=VOICE_FOLLOW_SELECT
                    )

        if voices:
            async_when_setup(hass, "assist_pipeline", _async_migrate_pipelines)
        hass.config_entries.async_update_entry(entry, minor_version=2)
    return True
