"""The home's vocabulary: built from exposed entities, areas and floors, sent with each STT
request, rebuilt on changes, shown in diagnostics, and off when the option says so."""

from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from homeassistant.components import stt
from homeassistant.components.homeassistant.exposed_entities import async_expose_entity
from homeassistant.core import HomeAssistant
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import floor_registry as fr
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util

from custom_components.workers_ai_speech.vocabulary import CONF_VOCABULARY, CONF_VOCABULARY_TERMS
from tests.components.stt_helpers import process_speech
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import WorkersAIClient, catalog

ENTITY_ID = "stt.workers_ai_stt_speech_to_text"
COMMAND = "Turn off the lights in the plantuary."


_SPEECH: dict[str, bytes] = {}


@pytest.fixture
async def plantuary_pcm(emulator: EmulatorProcess) -> bytes:
    """The command spoken by the emulator's voice (16 kHz 16-bit mono), made once."""
    if COMMAND not in _SPEECH:
        async with aiohttp.ClientSession() as session:
            client = WorkersAIClient(
                session, emulator.account_id, emulator.api_token, api_base_url=emulator.base_url
            )
            speech = await client.synthesize_pcm(catalog.AURA_2_EN, COMMAND, sample_rate=16000)
        _SPEECH[COMMAND] = speech.pcm
    return _SPEECH[COMMAND]


async def _home(hass: HomeAssistant) -> None:
    """A test home: an area with an alias on a floor, an exposed and a hidden entity."""
    assert await async_setup_component(hass, "homeassistant", {})
    floor = fr.async_get(hass).async_create("Mezzanine", aliases={"Entresol"})
    ar.async_get(hass).async_create("Plantuary", aliases={"Greenhouse"}, floor_id=floor.floor_id)
    hass.states.async_set("fan.zephyr", "on", {"friendly_name": "Zephyr fan"})
    hass.states.async_set("light.secret", "on", {"friendly_name": "Secret lamp"})
    async_expose_entity(hass, "conversation", "fan.zephyr", True)
    async_expose_entity(hass, "conversation", "light.secret", False)


async def _settle(hass: HomeAssistant) -> None:
    """Let the debounced rebuild run."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=5))
    await hass.async_block_till_done()


async def _vocabulary(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, entry: MockConfigEntry
) -> dict[str, Any]:
    assert await async_setup_component(hass, "diagnostics", {})
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    return diagnostics["vocabulary"]  # type: ignore[no-any-return]


async def _transcribe(hass: HomeAssistant, pcm: bytes) -> str:
    result = await process_speech(hass, ENTITY_ID, pcm)
    assert result.result is stt.SpeechResultState.SUCCESS
    return (result.text or "").lower()


async def test_the_home_s_names_reach_the_model_and_follow_changes(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    config_entry: MockConfigEntry,
    plantuary_pcm: bytes,
) -> None:
    await _home(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await _settle(hass)

    vocabulary = await _vocabulary(hass, hass_client, config_entry)
    assert vocabulary["enabled"] is True
    assert set(vocabulary["keyterms"]) == {
        "Plantuary",
        "Greenhouse",
        "Mezzanine",
        "Entresol",
        "Zephyr fan",
    }
    assert "Plantuary" in vocabulary["initial_prompt"]
    assert "plantuary" in await _transcribe(hass, plantuary_pcm)

    # A renamed area and a newly exposed entity reach the vocabulary without a reload.
    area = ar.async_get(hass).async_get_area_by_name("Plantuary")
    assert area is not None
    ar.async_get(hass).async_update(area.id, name="Orangery")
    await _settle(hass)
    keyterms = (await _vocabulary(hass, hass_client, config_entry))["keyterms"]
    assert "Orangery" in keyterms
    assert "Plantuary" not in keyterms
    assert "Secret lamp" not in keyterms
    async_expose_entity(hass, "conversation", "light.secret", True)
    await _settle(hass)
    assert "Secret lamp" in (await _vocabulary(hass, hass_client, config_entry))["keyterms"]
    assert "plantuary" not in await _transcribe(hass, plantuary_pcm)


@pytest.mark.parametrize("stt_model", [catalog.WHISPER_LARGE_V3_TURBO])
async def test_turbo_gets_the_names_as_its_prompt(
    hass: HomeAssistant, config_entry: MockConfigEntry, plantuary_pcm: bytes
) -> None:
    await _home(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await _settle(hass)
    assert "plantuary" in await _transcribe(hass, plantuary_pcm)


async def test_the_option_turns_it_off_and_user_terms_rank_first(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, config_entry: MockConfigEntry
) -> None:
    await _home(hass)
    hass.config_entries.async_update_entry(
        config_entry, options={CONF_VOCABULARY_TERMS: ["Réaltín's lamp"]}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await _settle(hass)
    assert (await _vocabulary(hass, hass_client, config_entry))["keyterms"][0] == "Réaltín's lamp"

    hass.config_entries.async_update_entry(
        config_entry, options={CONF_VOCABULARY: False, CONF_VOCABULARY_TERMS: ["Réaltín's lamp"]}
    )
    await _settle(hass)  # the update listener reloads the entry
    vocabulary = await _vocabulary(hass, hass_client, config_entry)
    assert vocabulary["enabled"] is False
    assert vocabulary["keyterms"] == []
    assert config_entry.runtime_data.vocabulary is not None
    assert config_entry.runtime_data.vocabulary.request_options(catalog.NOVA_3) == {}
