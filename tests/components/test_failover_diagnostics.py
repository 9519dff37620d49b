"""The circuit breakers in the config entry's diagnostics (issue 16), without secrets.

Uses the ``local_voice`` failover entities and the emulator of test_failover.py.
"""

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from homeassistant.const import CONF_API_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from custom_components.workers_ai_speech.const import CONF_ACCOUNT_ID, CONF_API_BASE_URL
from tests.components import test_failover as base
from tests.components.test_failover import LOCAL_STT, LOCAL_TTS, LocalSTT, LocalTTS, _transcribe
from wyoming_server.emulator import EmulatorProcess

pytestmark = pytest.mark.usefixtures("internal_url")

# test_failover.py's fixtures: the emulator behind a gate, the entry, the local entities.
emulator, gate, entry_data = base.emulator, base.gate, base.entry_data
subentries_data, config_entry, local = base.subentries_data, base.config_entry, base.local


async def test_diagnostics_show_each_breaker(
    hass: HomeAssistant,
    local: tuple[LocalSTT, LocalTTS],
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    emulator: EmulatorProcess,
    speech_pcm: bytes,
) -> None:
    """Workers AI fails twice (K=2) with a message quoting the account's URL: the STT breaker
    reads open with when and why, the TTS one closed; each names its failover entity; no
    token, account ID or base URL, also not in the quoted failure."""
    assert await async_setup_component(hass, "diagnostics", {})
    client = await hass_client()
    url = f"{setup_entry.data[CONF_API_BASE_URL]}/accounts/{setup_entry.data[CONF_ACCOUNT_ID]}"
    await emulator.set_faults(fail_next=50, status=500, code=3001, message=f"Internal at {url}")
    for _ in range(2):
        assert (await _transcribe(client, speech_pcm))["result"] == "success"  # the failover's

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, setup_entry)

    by_type = {s["subentry_type"]: s["subentry_id"] for s in diagnostics["subentries"]}
    stt_breaker = diagnostics["breakers"][by_type["stt"]]
    tts_breaker = diagnostics["breakers"][by_type["tts"]]
    assert stt_breaker["state"] == "open"
    assert stt_breaker["failures_in_window"] == 0  # forgotten once open
    assert stt_breaker["failure_threshold"] == 2
    assert stt_breaker["times_opened"] == 1
    assert stt_breaker["opened_at"] is not None
    assert stt_breaker["opened_for_s"] >= 0
    assert stt_breaker["last_failure"].startswith("ServerError")
    assert "Internal at **REDACTED**/accounts/**REDACTED**" in stt_breaker["last_failure"]
    assert stt_breaker["failover_entity"] == LOCAL_STT
    assert tts_breaker == {
        **tts_breaker,
        "state": "closed",
        "failures_in_window": 0,
        "opened_at": None,
        "last_failure": None,
        "failover_entity": LOCAL_TTS,
    }
    text = str(diagnostics)
    for secret in (CONF_API_TOKEN, CONF_ACCOUNT_ID, CONF_API_BASE_URL):
        assert setup_entry.data[secret] not in text, secret
