"""Setup, unload and reload of a Workers AI Speech entry against the emulator."""

from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import CONF_API_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

from custom_components.workers_ai_speech.const import (
    CONF_ACCOUNT_ID,
    CONF_API_BASE_URL,
    DOMAIN,
)
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import WorkersAIClient


async def test_setup_and_unload(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Setup checks the account, keeps a client in runtime_data and adds one device per service."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    client = config_entry.runtime_data.client
    assert isinstance(client, WorkersAIClient)
    assert client.api_base_url == config_entry.data[CONF_API_BASE_URL]
    # Voice path: a few seconds to connect, at most ~10 s in all, retries included.
    assert (client.connect_timeout, client.request_timeout, client.deadline) == (3.0, 8.0, 10.0)
    assert config_entry.runtime_data.long_text_client.deadline == 60.0

    entities = [  # the account's usage sensors: test_usage_sensors.py
        e
        for e in er.async_entries_for_config_entry(entity_registry, config_entry.entry_id)
        if e.domain != "sensor"
    ]
    assert sorted(e.entity_id for e in entities) == [
        "binary_sensor.workers_ai_stt_degraded",
        "binary_sensor.workers_ai_tts_degraded",
        "select.workers_ai_tts_voice",
        "stt.workers_ai_stt_speech_to_text",
        "tts.workers_ai_tts_text_to_speech",
    ]
    devices = [
        d
        for d in dr.async_entries_for_config_entry(device_registry, config_entry.entry_id)
        if (DOMAIN, config_entry.entry_id) not in d.identifiers  # the account's device
    ]
    assert len(devices) == 2
    for device in devices:
        assert device.entry_type is dr.DeviceEntryType.SERVICE
        assert device.manufacturer == "Cloudflare"
        assert device.config_entry_id == config_entry.entry_id
        subentry_id = device.config_subentry_id
        assert device.identifiers == {(DOMAIN, subentry_id)}
        assert device.name == config_entry.subentries[subentry_id].title
        for entity in entities:
            if entity.device_id == device.id:
                assert entity.config_subentry_id == subentry_id
    by_name = {d.name: d for d in devices}
    assert by_name["Workers AI STT"].model_id == "@cf/deepgram/nova-3"
    assert by_name["Workers AI TTS"].model == "Aura 2 English (Deepgram)"

    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get("stt.workers_ai_stt_speech_to_text").state == "unavailable"


async def test_setup_rejected_token_starts_reauth(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """A token Workers AI rejects (401/10000) fails setup and starts re-authentication."""
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_API_TOKEN: "revoked"}
    )
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]


async def test_setup_wrong_account_is_an_authentication_failure(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """Cloudflare refuses a wrong account ID like a wrong token (401/403, code 10000): the
    entry fails to set up and re-authentication starts, whose message names both."""
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_ACCOUNT_ID: "1" * 32}
    )
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    assert "account ID" in (config_entry.reason or "")
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def test_setup_unreachable_retries(
    hass: HomeAssistant, config_entry: MockConfigEntry, emulator: EmulatorProcess
) -> None:
    """Workers AI not answering (here: a stopped second emulator) means: retry later."""
    other = EmulatorProcess()
    await other.start()
    base_url = other.base_url
    await other.stop()
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_API_BASE_URL: base_url}
    )
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    assert config_entry.reason.startswith("Cannot reach Workers AI:")
