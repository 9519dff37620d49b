"""The ``workers_ai_speech.run_check`` action, through Home Assistant's service API."""

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError

from custom_components.workers_ai_speech.const import DOMAIN
from wyoming_server.emulator import EmulatorProcess


async def test_run_check_returns_the_report(
    hass: HomeAssistant, setup_entry: MockConfigEntry, emulator: EmulatorProcess
) -> None:
    response = await hass.services.async_call(
        DOMAIN,
        "run_check",
        {"config_entry_id": setup_entry.entry_id, "models": ["flux", "aura-2-en"]},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["ok"] is True
    checks = {(c["model_id"], c["transport"]): c for c in response["checks"]}
    assert set(checks) == {
        ("@cf/deepgram/flux", "websocket"),
        ("@cf/deepgram/aura-2-en", "rest"),
        ("@cf/deepgram/aura-2-en", "websocket"),
    }
    assert "living room light" in checks[("@cf/deepgram/flux", "websocket")]["result"].lower()
    assert checks[("@cf/deepgram/aura-2-en", "rest")]["neurons"] is not None
    assert response["expected_neurons"] > 0
    assert emulator.api_token not in str(response)


async def test_run_check_reports_a_deviation(
    hass: HomeAssistant, setup_entry: MockConfigEntry, emulator: EmulatorProcess
) -> None:
    await emulator.set_faults(ws_drop_after_messages=1)
    response = await hass.services.async_call(
        DOMAIN,
        "run_check",
        {"config_entry_id": setup_entry.entry_id, "models": ["aura-1"]},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["ok"] is False
    (streaming,) = [c for c in response["checks"] if c["transport"] == "websocket"]
    assert streaming["outcome"] == "deviation"
    assert any("Flushed" in d for d in streaming["deviations"])


async def test_run_check_refuses_an_unknown_model(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            DOMAIN,
            "run_check",
            {"config_entry_id": setup_entry.entry_id, "models": ["nova-9"]},
            blocking=True,
            return_response=True,
        )
    assert info.value.translation_key == "unknown_model"


async def test_run_check_needs_a_loaded_entry(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    assert await hass.config_entries.async_unload(setup_entry.entry_id)
    assert setup_entry.state is ConfigEntryState.NOT_LOADED
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN,
            "run_check",
            {"config_entry_id": setup_entry.entry_id},
            blocking=True,
            return_response=True,
        )
