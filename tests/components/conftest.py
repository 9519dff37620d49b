"""Fixtures for the Workers AI Speech component tests.

Workers AI is replaced by the project's emulator (real wire protocol, real local models) running
as a subprocess on 127.0.0.1 for the whole session, so Home Assistant's ``verify_cleanup`` sees
none of its threads. Nothing of the Workers AI client is patched.
"""

import asyncio
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.const import CONF_API_TOKEN, CONF_LANGUAGE, CONF_MODEL
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config

from custom_components.workers_ai_speech import tts_spares
from custom_components.workers_ai_speech.const import (
    CONF_ACCOUNT_ID,
    CONF_API_BASE_URL,
    CONF_VOICE,
    DOMAIN,
)
from tests.wire_recorder import WireRecorder
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import catalog

SPEECH_DIR = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="session")
def speech_pcm() -> bytes:
    """living_room_light_en.wav ("Turn on the living room light."): 16 kHz 16-bit mono PCM."""
    with wave.open(str(SPEECH_DIR / "living_room_light_en.wav"), "rb") as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (16000, 2, 1)
        return wav.readframes(wav.getnframes())


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    """The Workers AI emulator in a subprocess, shared by every test of the session.

    Its speak WebSockets close after 10 s idle: Deepgram documents no idle timeout for speak v1,
    so the tests take the worse case (the listen streams' 10 s, NET-0001).
    """
    process = EmulatorProcess(preload=True, speak_idle_timeout_s=10.0)
    asyncio.run(process.start())
    try:
        yield process
    finally:
        asyncio.run(process.stop())


@pytest.fixture(autouse=True)
async def reset_emulator_faults(emulator: EmulatorProcess) -> AsyncIterator[None]:
    """No injected fault survives its test."""
    yield
    await emulator.reset_faults()


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; the plugin still limits connections to 127.0.0.1 (the emulator)."""


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/workers_ai_speech."""


@pytest.fixture(autouse=True)
def mock_tts_cache_dir(tmp_path: Path) -> Iterator[Path]:
    """Keep the TTS file cache out of the plugin's config dir (as core's TTS tests do)."""
    with (
        patch("homeassistant.components.tts._init_tts_cache_dir", return_value=str(tmp_path)),
        patch("homeassistant.components.tts._get_cache_files", return_value={}),
    ):
        yield tmp_path


@pytest.fixture(autouse=True)
def no_spare_sockets() -> Iterator[None]:
    """No aura WebSocket is opened ahead (tts_spares.py) unless a test asks for it with
    ``spare_sockets``: an injected fault hits the next connection, which a spare opened at
    setup would have taken already."""
    with patch.object(tts_spares, "OPEN_AHEAD", False):
        yield


@pytest.fixture
def spare_sockets(no_spare_sockets: None) -> Iterator[None]:
    """Aura WebSockets are opened ahead, as in a real installation."""
    with patch.object(tts_spares, "OPEN_AHEAD", True):
        yield


@pytest.fixture
async def internal_url(hass: HomeAssistant) -> None:
    """TTS media URLs need a base URL (``pytestmark = pytest.mark.usefixtures(...)``)."""
    await async_process_ha_core_config(hass, {"internal_url": "http://example.local:8123"})


@pytest.fixture
def wire(emulator: EmulatorProcess, socket_enabled: None) -> Iterator[WireRecorder]:
    """A recording proxy in front of the session's emulator (its own thread, stopped before
    Home Assistant's cleanup check looks for threads)."""
    recorder = WireRecorder(emulator.base_url).start()
    yield recorder
    recorder.stop()


@pytest.fixture
def entry_data(emulator: EmulatorProcess) -> dict[str, str]:
    """Credentials of the emulator's account."""
    return {
        CONF_ACCOUNT_ID: emulator.account_id,
        CONF_API_TOKEN: emulator.api_token,
        CONF_API_BASE_URL: emulator.base_url,
    }


@pytest.fixture
def stt_model() -> str:
    """The model of the entry's speech-to-text subentry (override per test module)."""
    return catalog.NOVA_3


@pytest.fixture
def stt_language() -> str:
    """The language setting of the speech-to-text subentry (override per test)."""
    return "en"


@pytest.fixture
def subentries_data(stt_model: str, stt_language: str) -> list[dict[str, Any]]:
    """One STT and one TTS subentry (like the defaults a new entry gets)."""
    return [
        {
            "subentry_type": "stt",
            "title": "Workers AI STT",
            "data": {CONF_MODEL: stt_model, CONF_LANGUAGE: stt_language},
            "unique_id": None,
        },
        {
            "subentry_type": "tts",
            "title": "Workers AI TTS",
            "data": {CONF_MODEL: catalog.AURA_2_EN, CONF_LANGUAGE: "en", CONF_VOICE: "luna"},
            "unique_id": None,
        },
    ]


@pytest.fixture
def config_entry(
    hass: HomeAssistant, entry_data: dict[str, str], subentries_data: list[dict[str, Any]]
) -> MockConfigEntry:
    """A config entry for the emulator's account, added to hass (not set up)."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Workers AI test",
        unique_id=entry_data[CONF_ACCOUNT_ID],
        data=entry_data,
        subentries_data=subentries_data,  # type: ignore[arg-type]
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def setup_entry(hass: HomeAssistant, config_entry: MockConfigEntry) -> MockConfigEntry:
    """The config entry, set up."""
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry
