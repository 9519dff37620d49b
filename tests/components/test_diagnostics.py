"""Diagnostics: everything useful, the API token redacted."""

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.workers_ai_speech.const import CONF_API_TOKEN


async def test_diagnostics_redact_the_token(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    setup_entry: MockConfigEntry,
) -> None:
    """The token appears nowhere in the diagnostics; account, URL and services do."""
    assert await async_setup_component(hass, "diagnostics", {})
    token = setup_entry.data[CONF_API_TOKEN]
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, setup_entry)

    assert token not in str(diagnostics)
    assert diagnostics["entry"]["data"][CONF_API_TOKEN] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["account_id"] == setup_entry.data["account_id"]
    assert diagnostics["entry"]["api_base_url"] == setup_entry.data["api_base_url"]
    assert sorted(s["subentry_type"] for s in diagnostics["subentries"]) == ["stt", "tts"]
    tts_subentry = next(s for s in diagnostics["subentries"] if s["subentry_type"] == "tts")
    assert diagnostics["selected_voices"] == {tts_subentry["subentry_id"]: "luna"}
