"""Config flow: account validation against the emulator, reauth, reconfigure, subentries."""

import socket
from typing import Any
from unittest.mock import patch

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_API_TOKEN, CONF_LANGUAGE, CONF_MODEL, CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.workers_ai_speech import config_flow, create_client
from custom_components.workers_ai_speech.config_flow import valid_base_url
from custom_components.workers_ai_speech.const import (
    CONF_ACCOUNT_ID,
    CONF_ADVANCED,
    CONF_API_BASE_URL,
    CONF_GATEWAY_TOKEN,
    CONF_VOICE,
    DOMAIN,
    LANGUAGE_AUTO,
)
from custom_components.workers_ai_speech.failover import CONF_FAILOVER_ENTITY
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


def _form(data: dict[str, str]) -> dict[str, Any]:
    """The user form's input for ``data`` (base URL and gateway token in the section)."""
    form: dict[str, Any] = {k: v for k, v in data.items() if k not in _ADVANCED}
    form[CONF_ADVANCED] = {k: v for k, v in data.items() if k in _ADVANCED}
    return form


_ADVANCED = (CONF_API_BASE_URL, CONF_GATEWAY_TOKEN)


async def test_user_flow_creates_entry_with_default_services(
    hass: HomeAssistant, entry_data: dict[str, str]
) -> None:
    """Valid credentials (checked by a real call) create the entry plus an STT and a TTS service
    in the household's language (English in tests), named after their models."""
    result = await _user_form(hass)
    assert set(_schema_keys(result)) == {CONF_ACCOUNT_ID, CONF_API_TOKEN, CONF_ADVANCED}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        _form(
            {
                **entry_data,
                CONF_API_TOKEN: f"  {entry_data[CONF_API_TOKEN]} ",
                CONF_API_BASE_URL: entry_data[CONF_API_BASE_URL] + "/",
            }
        ),
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.unique_id == entry_data[CONF_ACCOUNT_ID]
    assert dict(entry.data) == entry_data  # token stripped, trailing slash dropped
    subentries = {s.subentry_type: s for s in entry.subentries.values()}
    assert set(subentries) == {"stt", "tts"}
    assert dict(subentries["stt"].data) == {CONF_MODEL: catalog.NOVA_3, CONF_LANGUAGE: "en"}
    assert dict(subentries["tts"].data) == {
        CONF_MODEL: catalog.AURA_2_EN,
        CONF_LANGUAGE: "en",
        CONF_VOICE: "luna",
    }
    assert subentries["tts"].title == "Workers AI Aura 2 English"
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("stt.workers_ai_nova_3_speech_to_text") is not None
    assert hass.states.get("tts.workers_ai_aura_2_english_text_to_speech") is not None
    assert hass.states.get("select.workers_ai_aura_2_english_voice").state == "luna"


@pytest.mark.parametrize(
    ("language", "stt", "tts", "voice"),
    [
        ("es", (catalog.NOVA_3, "es"), (catalog.AURA_2_ES, "es"), "aquila"),
        ("pl", (catalog.WHISPER_LARGE_V3_TURBO, "pl"), (catalog.AURA_2_EN, "en"), "luna"),
        ("ja", (catalog.NOVA_3, "ja"), (catalog.MELOTTS, "ja"), None),
        # Cloudflare's MeloTTS refuses French: the French household gets Aura 2 English.
        ("fr", (catalog.NOVA_3, "fr"), (catalog.AURA_2_EN, "en"), "luna"),
        # Home Assistant's Norwegian Bokmål is Whisper's Norwegian.
        ("nb", (catalog.WHISPER_LARGE_V3_TURBO, "no"), (catalog.AURA_2_EN, "en"), "luna"),
    ],
)
async def test_default_services_speak_the_household_language(
    hass: HomeAssistant,
    entry_data: dict[str, str],
    language: str,
    stt: tuple[str, str],
    tts: tuple[str, str],
    voice: str | None,
) -> None:
    """A Spanish household gets Aura 2 Spanish; nova-3 lacks Polish, so Whisper large v3
    turbo listens; Japanese is spoken by MeloTTS."""
    hass.config.language = language
    result = await _user_form(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], _form(entry_data))
    await hass.async_block_till_done()
    subentries = {s.subentry_type: dict(s.data) for s in result["result"].subentries.values()}
    assert (subentries["stt"][CONF_MODEL], subentries["stt"][CONF_LANGUAGE]) == stt
    assert (subentries["tts"][CONF_MODEL], subentries["tts"][CONF_LANGUAGE]) == tts
    assert subentries["tts"].get(CONF_VOICE) == voice
    (engine,) = hass.data["stt"].entities
    assert language in engine.supported_languages  # what a pipeline for the household stores


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
                CONF_ADVANCED: {CONF_API_BASE_URL: "  "},
            },
        )
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_API_BASE_URL not in result["result"].data


async def test_gateway_token_is_kept_only_with_a_gateway_url(
    hass: HomeAssistant, entry_data: dict[str, str]
) -> None:
    """The AI Gateway token is stored with an AI Gateway base URL and handed to the client;
    without a gateway it would mean nothing and is dropped."""
    result = await _user_form(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form({**entry_data, CONF_GATEWAY_TOKEN: "gateway-secret"})
    )
    await hass.async_block_till_done()
    assert CONF_GATEWAY_TOKEN not in result["result"].data

    gateway = {**entry_data, CONF_API_BASE_URL: "https://gateway.example/v1/a/g/workers-ai"}
    client = create_client(hass, {**gateway, CONF_GATEWAY_TOKEN: "gateway-secret"})
    assert client.is_gateway
    assert client._auth_headers["cf-aig-authorization"] == "Bearer gateway-secret"
    assert (
        config_flow._entry_data(
            gateway[CONF_ACCOUNT_ID],
            gateway[CONF_API_TOKEN],
            {CONF_API_BASE_URL: gateway[CONF_API_BASE_URL], CONF_GATEWAY_TOKEN: " gateway-secret "},
            {},
        )[CONF_GATEWAY_TOKEN]
        == "gateway-secret"
    )


@pytest.mark.parametrize(
    ("override", "errors"),
    [
        ({CONF_API_TOKEN: "wrong-token"}, {"base": "invalid_auth"}),
        # A wrong account ID is refused like a wrong token (401/403, code 10000; §9 C5).
        ({CONF_ACCOUNT_ID: "0" * 32}, {"base": "invalid_auth"}),
        ({CONF_API_BASE_URL: "ftp://127.0.0.1/client/v4"}, {CONF_ADVANCED: "invalid_url"}),
        ({CONF_API_BASE_URL: "not a url"}, {CONF_ADVANCED: "invalid_url"}),
        ({CONF_API_BASE_URL: "http://[::1/client/v4"}, {CONF_ADVANCED: "invalid_url"}),
        # Plain http sends the token in clear: only to a local emulator.
        ({CONF_API_BASE_URL: "http://gateway.example/client/v4"}, {CONF_ADVANCED: "invalid_url"}),
        ({CONF_API_BASE_URL: "http://192.168.1.5/client/v4"}, {CONF_ADVANCED: "invalid_url"}),
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
        result["flow_id"], _form({**entry_data, **override})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors

    result = await hass.config_entries.flow.async_configure(result["flow_id"], _form(entry_data))
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


def test_base_url_rules() -> None:
    """https anywhere; http only to loopback (a local emulator)."""
    assert valid_base_url("https://api.cloudflare.com/client/v4")
    assert valid_base_url("http://127.0.0.1:8787/client/v4")
    assert valid_base_url("http://localhost:8787/client/v4")
    assert valid_base_url("http://[::1]:8787/client/v4")
    assert not valid_base_url("http://10.0.0.1/client/v4")
    assert not valid_base_url("/client/v4")


async def test_user_flow_cannot_connect(hass: HomeAssistant, entry_data: dict[str, str]) -> None:
    """Nothing listening at the base URL: cannot_connect."""
    result = await _user_form(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form({**entry_data, CONF_API_BASE_URL: _closed_port_url()})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_user_flow_api_error(
    hass: HomeAssistant, entry_data: dict[str, str], emulator: EmulatorProcess
) -> None:
    """A base URL that answers, but not as the v4 API does: the error is shown."""
    result = await _user_form(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _form({**entry_data, CONF_API_BASE_URL: emulator.url + "/not-the-api"})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "api_error"}
    assert result["description_placeholders"]["error"]


async def test_user_flow_unexpected_error(hass: HomeAssistant, entry_data: dict[str, str]) -> None:
    """A bug while validating (simulated: it cannot be provoked otherwise) shows unknown."""
    result = await _user_form(hass)
    with patch(
        "custom_components.workers_ai_speech.WorkersAIClient.verify",
        side_effect=RuntimeError("boom"),
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], _form(entry_data)
        )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "unknown"}


async def test_user_flow_duplicate_account(
    hass: HomeAssistant, config_entry: MockConfigEntry, entry_data: dict[str, str]
) -> None:
    """The same account twice: already_configured."""
    result = await _user_form(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], _form(entry_data))
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
    assert result["errors"] == {"base": "invalid_auth"}


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
    """Reconfigure names the account without offering to edit it, never sends a stored token
    to the browser, reports errors, then stores a new URL and token."""
    result = await setup_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert set(_schema_keys(result)) == {CONF_API_TOKEN, CONF_ADVANCED}
    assert result["description_placeholders"]["account_id"] == entry_data[CONF_ACCOUNT_ID]
    assert entry_data[CONF_API_TOKEN] not in str(result["data_schema"].schema)
    advanced = result["data_schema"].schema[_schema_keys(result)[CONF_ADVANCED]].schema.schema
    suggested = {str(k): (k.description or {}).get("suggested_value") for k in advanced}
    assert suggested == {CONF_API_BASE_URL: entry_data[CONF_API_BASE_URL], CONF_GATEWAY_TOKEN: None}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_API_TOKEN: "wrong",
            CONF_ADVANCED: {CONF_API_BASE_URL: entry_data[CONF_API_BASE_URL]},
        },
    )
    assert result["errors"] == {"base": "invalid_auth"}

    # A second Workers AI endpoint for the same account, with a new token.
    async with EmulatorProcess(api_token="rotated-token") as other:
        new_data = {
            **entry_data,
            CONF_API_TOKEN: "rotated-token",
            CONF_API_BASE_URL: other.base_url,
        }
        form = _form(new_data)
        del form[CONF_ACCOUNT_ID]
        result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
        await hass.async_block_till_done()
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert dict(setup_entry.data) == new_data
        assert setup_entry.state is ConfigEntryState.LOADED
        await hass.config_entries.async_unload(setup_entry.entry_id)


async def test_reconfigure_not_loaded_entry_keeps_the_token(
    hass: HomeAssistant, config_entry: MockConfigEntry, entry_data: dict[str, str]
) -> None:
    """An empty token field keeps the stored token; an entry that is not loaded (no update
    listener) is reloaded by the flow itself."""
    result = await config_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ADVANCED: {CONF_API_BASE_URL: entry_data[CONF_API_BASE_URL]}}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert dict(config_entry.data) == entry_data
    assert config_entry.state is ConfigEntryState.LOADED


def _schema_keys(result: dict[str, Any]) -> dict[str, Any]:
    return {str(key): key for key in result["data_schema"].schema}


def _options(result: dict[str, Any], field: str) -> list[str]:
    """The option values of a select field of a form."""
    schema = result["data_schema"].schema
    return [o["value"] for o in schema[_schema_keys(result)[field]].config["options"]]


async def test_add_stt_subentry(hass: HomeAssistant, setup_entry: MockConfigEntry) -> None:
    """Add a Whisper large v3 turbo service with automatic language detection; the dropdowns
    show models and languages by name."""
    result = await hass.config_entries.subentries.async_init(
        (setup_entry.entry_id, "stt"), context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    labels = _labels(result, CONF_MODEL)
    assert labels[catalog.WHISPER_TINY_EN] == "Whisper tiny English (OpenAI)"
    assert len(set(labels.values())) == len(labels)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_MODEL: catalog.WHISPER_LARGE_V3_TURBO}
    )
    assert result["step_id"] == "settings"
    keys = _schema_keys(result)
    assert set(keys) == {CONF_NAME, CONF_LANGUAGE, CONF_FAILOVER_ENTITY}
    assert keys[CONF_LANGUAGE].default() == "en"  # Home Assistant's language
    options = _options(result, CONF_LANGUAGE)
    assert options[0] == LANGUAGE_AUTO
    assert _labels(result, CONF_LANGUAGE)["de"] == "German"
    # Names, not bare codes ("auto" is translated through the selector's translation key).
    assert all(
        label != code
        for code, label in _labels(result, CONF_LANGUAGE).items()
        if code != LANGUAGE_AUTO
    )

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
    engine = hass.data["stt"].get_entity("stt.turbo_speech_to_text")
    assert {"de", "de-DE", "pl", "en-US", "pt-BR"} <= set(engine.supported_languages)


async def test_stt_subentry_languages_follow_the_model(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """Flux speaks English only and cannot detect languages: no language field at all."""
    result = await hass.config_entries.subentries.async_init(
        (setup_entry.entry_id, "stt"), context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_MODEL: catalog.FLUX}
    )
    assert set(_schema_keys(result)) == {CONF_NAME, CONF_FAILOVER_ENTITY}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Flux"}
    )
    subentry = next(s for s in setup_entry.subentries.values() if s.title == "Flux")
    assert dict(subentry.data) == {CONF_MODEL: catalog.FLUX, CONF_LANGUAGE: "en"}


async def test_reconfigure_stt_subentry_keeps_its_model(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """Reconfiguring a service changes its name and language, never its model (so titles,
    entity IDs and pipelines stay right); another model is another service."""
    subentry = next(s for s in setup_entry.subentries.values() if s.subentry_type == "stt")
    result = await setup_entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    assert result["step_id"] == "settings"
    keys = _schema_keys(result)
    assert set(keys) == {CONF_NAME, CONF_LANGUAGE, CONF_FAILOVER_ENTITY}
    assert keys[CONF_NAME].default() == "Workers AI STT"
    assert keys[CONF_LANGUAGE].default() == "en"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Kitchen STT", CONF_LANGUAGE: "de"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    subentry = setup_entry.subentries[subentry.subentry_id]
    assert dict(subentry.data) == {CONF_MODEL: catalog.NOVA_3, CONF_LANGUAGE: "de"}
    assert subentry.title == "Kitchen STT"
    # The entity ID stays (automations, pipelines); its name follows the new title.
    state = hass.states.get("stt.workers_ai_stt_speech_to_text")
    assert state.attributes["friendly_name"] == "Kitchen STT Speech-to-text"
    engine = hass.data["stt"].get_entity("stt.workers_ai_stt_speech_to_text")
    assert "de-CH" in engine.supported_languages
    assert "en" not in engine.supported_languages


async def test_add_tts_subentries(hass: HomeAssistant, setup_entry: MockConfigEntry) -> None:
    """Aura 1 asks for a voice (default: the model's); MeloTTS only for a language."""
    result = await hass.config_entries.subentries.async_init(
        (setup_entry.entry_id, "tts"), context={"source": config_entries.SOURCE_USER}
    )
    assert _schema_keys(result)[CONF_MODEL].default() == catalog.AURA_2_EN
    labels = _labels(result, CONF_MODEL)
    assert labels[catalog.AURA_2_EN] == "Aura 2 English (Deepgram)"
    assert labels[catalog.AURA_2_ES] == "Aura 2 Spanish (Deepgram)"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_MODEL: catalog.AURA_1}
    )
    keys = _schema_keys(result)
    assert set(keys) == {CONF_NAME, CONF_VOICE, CONF_FAILOVER_ENTITY}  # aura 1 speaks only English
    assert keys[CONF_VOICE].default() == "angus"
    assert keys[CONF_NAME].default() == "Workers AI Aura 1"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Aura One", CONF_VOICE: "orion"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY

    result = await hass.config_entries.subentries.async_init(
        (setup_entry.entry_id, "tts"), context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_MODEL: catalog.MELOTTS}
    )
    keys = _schema_keys(result)
    assert set(keys) == {CONF_NAME, CONF_LANGUAGE, CONF_FAILOVER_ENTITY}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Melo Chinese", CONF_LANGUAGE: "zh"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY

    by_title = {s.title: dict(s.data) for s in setup_entry.subentries.values()}
    assert by_title["Aura One"] == {
        CONF_MODEL: catalog.AURA_1,
        CONF_LANGUAGE: "en",
        CONF_VOICE: "orion",
    }
    assert by_title["Melo Chinese"] == {CONF_MODEL: catalog.MELOTTS, CONF_LANGUAGE: "zh"}
    assert hass.states.get("select.aura_one_voice").state == "orion"
    assert hass.states.get("tts.melo_chinese_text_to_speech") is not None
    assert hass.states.get("select.melo_chinese_voice") is None  # MeloTTS has no speakers


async def test_reconfigure_tts_subentry_voice_is_the_selects(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """The reconfigure form's voice and the voice select are one setting: a voice chosen in
    the form shows in the select at once, without a reload; the model cannot change."""
    subentry = next(s for s in setup_entry.subentries.values() if s.subentry_type == "tts")
    tts_entity = hass.data["tts"].get_entity("tts.workers_ai_tts_text_to_speech")
    result = await setup_entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    keys = _schema_keys(result)
    assert set(keys) == {CONF_NAME, CONF_VOICE, CONF_FAILOVER_ENTITY}
    assert keys[CONF_VOICE].default() == "luna"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Workers AI TTS", CONF_VOICE: "orion"}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert dict(setup_entry.subentries[subentry.subentry_id].data) == {
        CONF_MODEL: catalog.AURA_2_EN,
        CONF_LANGUAGE: "en",
        CONF_VOICE: "orion",
    }
    assert hass.states.get("select.workers_ai_tts_voice").state == "orion"
    # Not reloaded: the same entity object still serves.
    assert hass.data["tts"].get_entity("tts.workers_ai_tts_text_to_speech") is tts_entity


def _labels(result: dict[str, Any], field: str) -> dict[str, str]:
    schema = result["data_schema"].schema
    return {o["value"]: o["label"] for o in schema[_schema_keys(result)[field]].config["options"]}
