"""The API token never leaks from the component: not in DEBUG logs, errors, diagnostics or reprs.

An emulator that accepts a recognisable canary token serves whole flows (setup, speech-to-text
over the WebSocket, text-to-speech, a Workers AI failure, a rejected token with its
re-authentication); the canary is then searched in every log record (with its exception text),
the diagnostics and the reprs of what the entry holds.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from tts_helpers import get_tts_audio

from homeassistant.components import stt
from homeassistant.const import CONF_API_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.setup import async_setup_component

from tests.components.stt_helpers import speech_metadata
from wyoming_server.emulator import EmulatorProcess

CANARY = "CanaryTok3n-do-not-leak-4f9d2c1b7a6e5d4c"
WRONG_CANARY = "WrongCanaryTok3n-never-leak-0a1b2c3d4e5f"
PIECES = (CANARY, CANARY[:16], CANARY[-16:], WRONG_CANARY, WRONG_CANARY[:16])
STT_ENTITY_ID = "stt.workers_ai_stt_speech_to_text"
CHUNK = 3200


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    """An emulator accepting only the canary token (replaces the session's emulator)."""
    process = EmulatorProcess(api_token=CANARY, preload=True)
    asyncio.run(process.start())
    try:
        yield process
    finally:
        asyncio.run(process.stop())


async def _chunks(pcm: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(pcm), CHUNK):
        yield pcm[start : start + CHUNK]


def _assert_no_secret(text: str, where: str) -> None:
    for piece in PIECES:
        assert piece not in text, f"token piece {piece!r} found in {where}"


async def test_token_appears_nowhere(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    config_entry: MockConfigEntry,
    emulator: EmulatorProcess,
    speech_pcm: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    assert config_entry.data[CONF_API_TOKEN] == CANARY
    await async_process_ha_core_config(hass, {"internal_url": "http://example.local:8123"})
    assert await async_setup_component(hass, "diagnostics", {})
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()

    engine = stt.async_get_speech_to_text_entity(hass, STT_ENTITY_ID)
    assert engine is not None
    heard = await engine.async_process_audio_stream(speech_metadata(), _chunks(speech_pcm))
    assert heard.text
    _, wav = await get_tts_audio(hass, "Hello there.", options={"preferred_format": "wav"})
    assert wav[:4] == b"RIFF"
    await emulator.set_faults(fail_next=5, status=500, code=3001)
    failed = await engine.async_process_audio_stream(speech_metadata(), _chunks(speech_pcm))
    assert failed.result is stt.SpeechResultState.ERROR
    await emulator.reset_faults()
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, config_entry)
    reprs = [repr(config_entry), repr(config_entry.runtime_data), str(diagnostics)]

    # A rejected token: setup fails, re-authentication starts.
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_API_TOKEN: WRONG_CANARY}
    )
    assert not await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()

    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    for record in caplog.records:
        _assert_no_secret(record.getMessage(), f"log record {record.name}")
        if record.exc_info:
            _assert_no_secret(logging.Formatter().formatException(record.exc_info), "a traceback")
    _assert_no_secret(caplog.text, "the log")
    for text in reprs:
        _assert_no_secret(text, text[:60])
