"""Upgrading: pipelines made before "Follow the voice select" existed start following it."""

from typing import Any

from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from homeassistant.components import assist_pipeline
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component

from custom_components.workers_ai_speech.const import DOMAIN, VOICE_FOLLOW_SELECT

TTS_ENTITY_ID = "tts.workers_ai_tts_text_to_speech"


async def _create_pipeline(client: Any, name: str, voice: str) -> str:
    await client.send_json_auto_id(
        {
            "type": "assist_pipeline/pipeline/create",
            "conversation_engine": "conversation.home_assistant",
            "conversation_language": "en",
            "language": "en",
            "name": name,
            "stt_engine": None,
            "stt_language": None,
            "tts_engine": TTS_ENTITY_ID,
            "tts_language": "en",
            "tts_voice": voice,
            "wake_word_entity": None,
            "wake_word_id": None,
        }
    )
    response = await client.receive_json()
    assert response["success"], response
    return str(response["result"]["id"])


async def test_pipelines_with_the_services_voice_follow_the_select(
    hass: HomeAssistant,
    entry_data: dict[str, str],
    subentries_data: list[dict[str, Any]],
    entity_registry: er.EntityRegistry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A 1.1 entry: a pipeline that stored the service's voice (luna, what the old entity
    listed first) follows the select after the upgrade; one with another voice keeps it."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=entry_data["account_id"],
        data=entry_data,
        subentries_data=subentries_data,  # type: ignore[arg-type]
        version=1,
        minor_version=1,
    )
    entry.add_to_hass(hass)
    tts_subentry = next(s for s in entry.subentries.values() if s.subentry_type == "tts")
    entity_registry.async_get_or_create(
        "tts",
        DOMAIN,
        tts_subentry.subentry_id,
        config_entry=entry,
        config_subentry_id=tts_subentry.subentry_id,
        suggested_object_id="workers_ai_tts_text_to_speech",
    )
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "assist_pipeline", {})
    client = await hass_ws_client(hass)
    old_default = await _create_pipeline(client, "Old default", "luna")
    chosen = await _create_pipeline(client, "Chosen voice", "orion")

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.minor_version == 2
    voices = {p.id: p.tts_voice for p in assist_pipeline.async_get_pipelines(hass)}
    assert voices[old_default] == VOICE_FOLLOW_SELECT
    assert voices[chosen] == "orion"


async def test_newer_major_version_is_refused(
    hass: HomeAssistant, entry_data: dict[str, str]
) -> None:
    """An entry from a future major version is not set up (no silent downgrade)."""
    entry = MockConfigEntry(domain=DOMAIN, data=entry_data, version=2)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
