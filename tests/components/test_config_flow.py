"""Config flow: account validation against the emulator, reauth, reconfigure, subentries."""

import socket
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.workers_ai_speech.const import (
    CONF_ACCOUNT_ID,
    CONF_API_BASE_URL,
    CONF_API_TOKEN,
    CONF_LANGUAGE,
    CONF_MODEL,
    CONF_VOICE,
    DOMAIN,
    LANGUAGE_AUTO,
)
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import catalog


def _closed_port_url() -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/client/v4"


async def _user_form(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return dict(result)


async def test_user_flow_creates_entry_with_default_services(
    hass: HomeAssistant, entry_data: dict[str, str]
) -> None:
    """Valid credentials (checked by a real call) create the entry plus an STT and a TTS service."""
    result = await _user_form(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            **entry_data,
            CONF_API_TOKEN: f"  {entry_data[CONF_API_TOKEN]} ",
            CONF_API_BASE_URL: entry_data[CONF_API_BASE_URL] + "/",
        },
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.unique_id == entry_data[CONF_ACCOUNT_ID]
    assert dict(entry.data) == entry_data  # token stripped, trailing slash dropped
    subentries = {s.subentry_type: s for s in entry.subentries.values()}
    assert set(subentries) == {"stt", "tts"}
    # Home Assistant's language ("en" in tests) picks nova-3's best match, en-US.
    assert dict(subentries["stt"].data) == {CONF_MODEL: catalog.NOVA_3, CONF_LANGUAGE: "en-US"}
    assert dict(subentries["tts"].data) == {
        CONF_MODEL: catalog.AURA_2_EN,
        CONF_LANGUAGE: "en",
        CONF_VOICE: "luna",
    }
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("stt.workers_ai_nova_3_speech_to_text") is not None
    assert hass.states.get("tts.workers_ai_aura_2_text_to_speech") is not None
    assert hass.states.get("select.workers_ai_aura_2_voice").state == "luna"


async def test_user_flow_without_base_url_stores_none(
    hass: HomeAssistant, entry_data: dict[str, str]
) -> None:
    """An empty base URL means Cloudflare's own (here pointed at the emulator): none is stored."""
    result = await _user_form(hass)
    with (
        patch(
            "custom_components.workers_ai_speech.config_flow.DEFAULT_API_BASE_URL",
            entry_data[CONF_API_BASE_URL],
        ),
        patch(
            "custom_components.workers_ai_speech.DEFAULT_API_BASE_URL",
            entry_data[CONF_API_BASE_URL],
        ),
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                CONF_ACCOUNT_ID: entry_data[CONF_ACCOUNT_ID],
                CONF_API_TOKEN: entry_data[CONF_API_TOKEN],
                CONF_API_BASE_URL: "  ",
            },
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_API_BASE_URL not in result["result"].data


@pytest.mark.parametrize(
    ("override", "errors"),
    [
        ({CONF_API_TOKEN: "wrong-token"}, {"base": "invalid_auth"}),
        ({CONF_ACCOUNT_ID: "0" * 32}, {CONF_ACCOUNT_ID: "invalid_account"}),
        ({CONF_API_BASE_URL: "ftp://127.0.0.1/client/v4"}, {CONF_API_BASE_URL: "invalid_url"}),
        ({CONF_API_BASE_URL: "not a url"}, {CONF_API_BASE_URL: "invalid_url"}),
        ({CONF_API_BASE_URL: "http://[::1/client/v4"}, {CONF_API_BASE_URL: "invalid_url"}),
    ],
)
async def test_user_flow_errors_then_recover(
    hass: HomeAssistant,
    entry_data: dict[str, str],
    override: dict[str, str],
    errors: dict[str, str],
) -> None:
    """Each wrong setting is reported on the form, and the flow can still finish."""
    result = await _user_form(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**entry_data, **override}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors

    result = await hass.config_entries.flow.async_configure(result["flow_id"], entry_data)
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_cannot_connect(hass: HomeAssistant, entry_data: dict[str, str]) -> None:
    """Nothing listening at the base URL: cannot_connect."""
    result = await _user_form(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**entry_data, CONF_API_BASE_URL: _closed_port_url()}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_user_flow_api_error(
    hass: HomeAssistant, entry_data: dict[str, str], emulator: EmulatorProcess
) -> None:
    """A base URL that answers, but not as the v4 API does: the error is shown."""
    result = await _user_form(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**entry_data, CONF_API_BASE_URL: emulator.url + "/not-the-api"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "api_error"}
    assert result["description_placeholders"]["error"]


async def test_user_flow_unexpected_error(hass: HomeAssistant, entry_data: dict[str, str]) -> None:
    """A bug while validating (simulated: it cannot be provoked otherwise) shows unknown."""
    result = await _user_form(hass)
    with patch(
        "custom_components.workers_ai_speech.config_flow.WorkersAIClient.verify",
        side_effect=RuntimeError("boom"),
    ):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], entry_data)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "unknown"}


async def test_user_flow_duplicate_account(
    hass: HomeAssistant, config_entry: MockConfigEntry, entry_data: dict[str, str]
) -> None:
    """The same account twice: already_configured."""
    result = await _user_form(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], entry_data)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth_flow(
    hass: HomeAssistant, entry_data: dict[str, str], subentries_data: list[dict[str, Any]]
) -> None:
    """A token rejected at setup starts reauth; a wrong new token is refused, a right one loads."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=entry_data[CONF_ACCOUNT_ID],
        data={**entry_data, CONF_API_TOKEN: "expired"},
        subentries_data=subentries_data,  # type: ignore[arg-type]
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    assert flows[0]["context"]["source"] == config_entries.SOURCE_REAUTH
    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"])
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"]["account_id"] == entry_data[CONF_ACCOUNT_ID]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_TOKEN: "still-wrong"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_TOKEN: entry_data[CONF_API_TOKEN]}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_API_TOKEN] == entry_data[CONF_API_TOKEN]
    assert entry.state is ConfigEntryState.LOADED


async def test_reauth_errors_show_on_the_reauth_form(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """The reauth form has only the token field, so every error must be a form-wide one.

    An error keyed to ``account_id`` (not a field of this form) would not be shown: the user
    would see the same form again with no message.
    """
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_ACCOUNT_ID: "1" * 32}
    )
    result = await config_entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_TOKEN: config_entry.data[CONF_API_TOKEN]}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["errors"] == {"base": "invalid_account"}


async def test_reauth_flow_of_loaded_entry(
    hass: HomeAssistant, setup_entry: MockConfigEntry, entry_data: dict[str, str]
) -> None:
    """Reauth of a loaded entry updates it; its update listener reloads it."""
    result = await setup_entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_TOKEN: entry_data[CONF_API_TOKEN]}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert setup_entry.state is ConfigEntryState.LOADED


async def test_reconfigure_flow(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    entry_data: dict[str, str],
    emulator: EmulatorProcess,
) -> None:
    """Reconfigure shows the current values, reports errors, then stores the new URL."""
    result = await setup_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description
    }
    assert suggested[CONF_API_BASE_URL] == entry_data[CONF_API_BASE_URL]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**entry_data, CONF_API_TOKEN: "wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}

    # A second Workers AI endpoint (e.g. an AI Gateway) for the same account, with a new token.
    async with EmulatorProcess(api_token="rotated-token") as other:
        new_data = {
            **entry_data,
            CONF_API_TOKEN: "rotated-token",
            CONF_API_BASE_URL: other.base_url,
        }
        result = await hass.config_entries.flow.async_configure(result["flow_id"], new_data)
        await hass.async_block_till_done()
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert dict(setup_entry.data) == new_data
        assert setup_entry.state is ConfigEntryState.LOADED
        await hass.config_entries.async_unload(setup_entry.entry_id)


async def test_reconfigure_other_account_aborts(
    hass: HomeAssistant, setup_entry: MockConfigEntry, entry_data: dict[str, str]
) -> None:
    """The account ID is the entry's identity: changing it aborts."""
    result = await setup_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**entry_data, CONF_ACCOUNT_ID: "f" * 32}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "account_mismatch"


async def test_reconfigure_not_loaded_entry(
    hass: HomeAssistant, config_entry: MockConfigEntry, entry_data: dict[str, str]
) -> None:
    """An entry that is not loaded (no update listener) is reloaded by the flow itself."""
    result = await config_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], entry_data)
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert config_entry.state is ConfigEntryState.LOADED


def _schema_keys(result: dict[str, Any]) -> dict[str, Any]:
    return {str(key): key for key in result["data_schema"].schema}


def _options(result: dict[str, Any], field: str) -> list[str]:
    """The option values of a select field of a form."""
    schema = result["data_schema"].schema
    return [o["value"] for o in schema[_schema_keys(result)[field]].config["options"]]


async def test_add_stt_subentry(hass: HomeAssistant, setup_entry: MockConfigEntry) -> None:
    """Add a Whisper large v3 turbo service with automatic language detection."""
    result = await hass.config_entries.subentries.async_init(
        (setup_entry.entry_id, "stt"), context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_MODEL: catalog.WHISPER_LARGE_V3_TURBO}
    )
    assert result["step_id"] == "settings"
    keys = _schema_keys(result)
    assert set(keys) == {CONF_NAME, CONF_LANGUAGE}
    assert keys[CONF_LANGUAGE].default() == "en"  # Home Assistant's language
    options = [
        o["value"] for o in result["data_schema"].schema[keys[CONF_LANGUAGE]].config["options"]
    ]
    assert options[0] == LANGUAGE_AUTO
    assert "de" in options

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Turbo", CONF_LANGUAGE: LANGUAGE_AUTO}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    subentry = next(s for s in setup_entry.subentries.values() if s.title == "Turbo")
    assert dict(subentry.data) == {
        CONF_MODEL: catalog.WHISPER_LARGE_V3_TURBO,
        CONF_LANGUAGE: LANGUAGE_AUTO,
    }
    # The entry reloaded: the new service has its entity, with every language of the model.
    state = hass.states.get("stt.turbo_speech_to_text")
    assert state is not None
    engine = hass.data["stt"].get_entity("stt.turbo_speech_to_text")
    assert engine.supported_languages == list(catalog.WHISPER_LANGUAGES)


async def test_stt_subentry_languages_follow_the_model(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """Flux speaks English only and cannot detect languages: no auto option."""
    result = await hass.config_entries.subentries.async_init(
        (setup_entry.entry_id, "stt"), context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_MODEL: catalog.FLUX}
    )
    keys = _schema_keys(result)
    options = [
        o["value"] for o in result["data_schema"].schema[keys[CONF_LANGUAGE]].config["options"]
    ]
    assert options == ["en"]


async def test_reconfigure_stt_subentry(hass: HomeAssistant, setup_entry: MockConfigEntry) -> None:
    """Switch the STT service from nova-3 (en) to Whisper (German); the name is kept."""
    subentry = next(s for s in setup_entry.subentries.values() if s.subentry_type == "stt")
    result = await setup_entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    assert result["step_id"] == "reconfigure"
    assert _schema_keys(result)[CONF_MODEL].default() == catalog.NOVA_3
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_MODEL: catalog.WHISPER}
    )
    keys = _schema_keys(result)
    assert CONF_NAME not in keys
    assert keys[CONF_LANGUAGE].default() == "en"  # still valid for Whisper: kept
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_LANGUAGE: "de"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    subentry = setup_entry.subentries[subentry.subentry_id]
    assert dict(subentry.data) == {CONF_MODEL: catalog.WHISPER, CONF_LANGUAGE: "de"}
    assert subentry.title == "Workers AI STT"
    engine = hass.data["stt"].get_entity("stt.workers_ai_stt_speech_to_text")
    assert engine.supported_languages == ["de"]


async def test_add_tts_subentries(hass: HomeAssistant, setup_entry: MockConfigEntry) -> None:
    """Aura 1 asks for a voice (default: the model's); MeloTTS only for a language."""
    result = await hass.config_entries.subentries.async_init(
        (setup_entry.entry_id, "tts"), context={"source": config_entries.SOURCE_USER}
    )
    assert _schema_keys(result)[CONF_MODEL].default() == catalog.AURA_2_EN
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_MODEL: catalog.AURA_1}
    )
    keys = _schema_keys(result)
    assert keys[CONF_VOICE].default() == "angus"
    assert keys[CONF_NAME].default() == "Workers AI Aura 1"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Aura One", CONF_LANGUAGE: "en", CONF_VOICE: "orion"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY

    result = await hass.config_entries.subentries.async_init(
        (setup_entry.entry_id, "tts"), context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_MODEL: catalog.MELOTTS}
    )
    keys = _schema_keys(result)
    assert set(keys) == {CONF_NAME, CONF_LANGUAGE}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Melo French", CONF_LANGUAGE: "fr"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY

    by_title = {s.title: dict(s.data) for s in setup_entry.subentries.values()}
    assert by_title["Aura One"] == {
        CONF_MODEL: catalog.AURA_1,
        CONF_LANGUAGE: "en",
        CONF_VOICE: "orion",
    }
    assert by_title["Melo French"] == {CONF_MODEL: catalog.MELOTTS, CONF_LANGUAGE: "fr"}
    assert hass.states.get("select.aura_one_voice").state == "orion"
    assert hass.states.get("tts.melo_french_text_to_speech") is not None
    assert hass.states.get("select.melo_french_voice") is None  # MeloTTS has no speakers


async def test_reconfigure_tts_subentry(hass: HomeAssistant, setup_entry: MockConfigEntry) -> None:
    """Switch Aura 2 English (luna) to Aura 2 Spanish: the voice default becomes aquila."""
    subentry = next(s for s in setup_entry.subentries.values() if s.subentry_type == "tts")
    result = await setup_entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_MODEL: catalog.AURA_2_ES}
    )
    keys = _schema_keys(result)
    assert keys[CONF_VOICE].default() == "aquila"
    assert keys[CONF_LANGUAGE].default() == "es"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_LANGUAGE: "es", CONF_VOICE: "diana"}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert dict(setup_entry.subentries[subentry.subentry_id].data) == {
        CONF_MODEL: catalog.AURA_2_ES,
        CONF_LANGUAGE: "es",
        CONF_VOICE: "diana",
    }
    assert hass.states.get("select.workers_ai_tts_voice").state == "diana"
