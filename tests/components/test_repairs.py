"""Repair issues: a service whose model this version does not offer, fixed by a flow."""

from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_LANGUAGE, CONF_MODEL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component

from custom_components.workers_ai_speech.const import CONF_VOICE, DOMAIN
from wyoming_server.workers_ai import catalog

RETIRED = "@cf/deepgram/aura-0"


@pytest.fixture
def subentries_data(subentries_data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The default services plus one whose model is unknown (retired, or from a newer
    version), and an STT service pointing at a TTS model."""
    return [
        *subentries_data,
        {
            "subentry_type": "tts",
            "title": "Workers AI Aura 0",
            "data": {CONF_MODEL: RETIRED, CONF_LANGUAGE: "en", CONF_VOICE: "orion"},
            "unique_id": None,
        },
        {
            "subentry_type": "stt",
            "title": "Kitchen",
            "data": {CONF_MODEL: catalog.AURA_1, CONF_LANGUAGE: "en"},
            "unique_id": None,
        },
    ]


def _subentry_id(entry: MockConfigEntry, title: str) -> str:
    return next(s.subentry_id for s in entry.subentries.values() if s.title == title)


async def test_unknown_model_is_a_repair_issue_with_a_fix_flow(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The entry still loads (the other services work), each broken service gets a fixable
    issue, and picking a model in the fix flow brings the service back, its default title
    following the new model and its voice kept where the model has it."""
    assert setup_entry.state is ConfigEntryState.LOADED
    assert hass.states.get("tts.workers_ai_tts_text_to_speech") is not None
    retired_id = _subentry_id(setup_entry, "Workers AI Aura 0")
    kitchen_id = _subentry_id(setup_entry, "Kitchen")
    issue = issue_registry.async_get_issue(DOMAIN, f"unknown_model_{retired_id}")
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {"service": "Workers AI Aura 0", "model": RETIRED}
    assert issue_registry.async_get_issue(DOMAIN, f"unknown_model_{kitchen_id}") is not None

    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix",
        json={"handler": DOMAIN, "issue_id": f"unknown_model_{retired_id}"},
    )
    assert response.status == 200
    flow = await response.json()
    assert flow["step_id"] == "init"
    models = [o["value"] for o in flow["data_schema"][0]["selector"]["select"]["options"]]
    assert models == [m.model_id for m in catalog.TTS_MODELS]

    response = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}", json={CONF_MODEL: catalog.AURA_1}
    )
    assert response.status == 200
    assert (await response.json())["type"] == "create_entry"
    await hass.async_block_till_done()

    subentry = setup_entry.subentries[retired_id]
    assert subentry.title == "Workers AI Aura 1"
    assert dict(subentry.data) == {
        CONF_MODEL: catalog.AURA_1,
        CONF_LANGUAGE: "en",
        CONF_VOICE: "orion",
    }
    assert issue_registry.async_get_issue(DOMAIN, f"unknown_model_{retired_id}") is None
    assert hass.states.get("select.workers_ai_aura_1_voice").state == "orion"


async def test_fix_flow_of_a_removed_service_aborts(
    hass: HomeAssistant, setup_entry: MockConfigEntry, hass_client: ClientSessionGenerator
) -> None:
    """The service was deleted while its issue was open: the fix flow says so."""
    kitchen_id = _subentry_id(setup_entry, "Kitchen")
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix",
        json={"handler": DOMAIN, "issue_id": f"unknown_model_{kitchen_id}"},
    )
    flow = await response.json()
    assert hass.config_entries.async_remove_subentry(setup_entry, kitchen_id)
    await hass.async_block_till_done()
    response = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}", json={CONF_MODEL: catalog.NOVA_3}
    )
    result = await response.json()
    assert result["type"] == "abort"
    assert result["reason"] == "service_removed"


async def test_reconfigure_of_a_broken_service_points_to_the_repair(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """Reconfiguring a service whose model is unknown aborts (the repair fixes it)."""
    result = await setup_entry.start_subentry_reconfigure_flow(
        hass, _subentry_id(setup_entry, "Kitchen")
    )
    assert result["reason"] == "unknown_model"
