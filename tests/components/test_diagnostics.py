"""Diagnostics: the services and settings, without tokens, the account ID or custom URLs."""

from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from homeassistant.const import CONF_API_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from custom_components.workers_ai_speech.const import CONF_ACCOUNT_ID, CONF_API_BASE_URL


async def test_diagnostics_redact_secrets_and_the_account(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    setup_entry: MockConfigEntry,
) -> None:
    """Neither the token, nor the account ID, nor the base URL (an AI Gateway URL contains
    the account ID) appears anywhere; the services and their voices do."""
    assert await async_setup_component(hass, "diagnostics", {})
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, setup_entry)

    text = str(diagnostics)
    for secret in (CONF_API_TOKEN, CONF_ACCOUNT_ID, CONF_API_BASE_URL):
        assert setup_entry.data[secret] not in text, secret
    assert diagnostics["entry"]["data"][CONF_ACCOUNT_ID] == "**REDACTED**"
    assert diagnostics["api_base_url"] == {"custom": True, "ai_gateway": False}
    assert sorted(s["subentry_type"] for s in diagnostics["subentries"]) == ["stt", "tts"]
    tts_subentry = next(s for s in diagnostics["subentries"] if s["subentry_type"] == "tts")
    assert tts_subentry["data"]["voice"] == "luna"
    assert diagnostics["issues"] == []
