"""Unloading (and reloading) the entry while a speech-to-text stream is running.

A satellite may be mid-sentence when the user reloads the integration or Home Assistant stops.
The running stream must end at once with an error result (its WebSocket closed), the entry must
unload and load again, and the new entity must transcribe normally.
"""

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from homeassistant.components import stt
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.components.stt_helpers import speech_metadata
from wyoming_server.workers_ai import catalog

ENTITY_ID = "stt.workers_ai_stt_speech_to_text"
CHUNK = 3200  # 100 ms of 16 kHz 16-bit mono
HANG_GUARD = 10.0
"""Seconds after which a stream still running after the unload counts as leaked."""


async def _endless(pcm: bytes, started: asyncio.Event) -> AsyncIterator[bytes]:
    """The recording, then silence forever, in real time (a satellite that never stops)."""
    sent = 0
    while True:
        chunk = pcm[sent : sent + CHUNK] or bytes(CHUNK)
        sent += CHUNK
        yield chunk
        if sent >= 5 * CHUNK:
            started.set()
        await asyncio.sleep(0.05)


async def _chunks(pcm: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(pcm), CHUNK):
        yield pcm[start : start + CHUNK]


async def test_unload_and_reload_while_a_stream_runs(
    hass: HomeAssistant, setup_entry: MockConfigEntry, speech_pcm: bytes
) -> None:
    engine = stt.async_get_speech_to_text_entity(hass, ENTITY_ID)
    assert engine is not None
    started = asyncio.Event()
    running = asyncio.create_task(
        engine.async_process_audio_stream(speech_metadata(), _endless(speech_pcm, started))
    )
    await asyncio.wait_for(started.wait(), HANG_GUARD)

    assert await hass.config_entries.async_unload(setup_entry.entry_id)
    await hass.async_block_till_done()
    assert setup_entry.state is ConfigEntryState.NOT_LOADED
    result = await asyncio.wait_for(running, HANG_GUARD)
    assert result.result is stt.SpeechResultState.ERROR

    assert await hass.config_entries.async_setup(setup_entry.entry_id)
    await hass.async_block_till_done()
    assert setup_entry.state is ConfigEntryState.LOADED
    engine = stt.async_get_speech_to_text_entity(hass, ENTITY_ID)
    assert engine is not None
    result = await engine.async_process_audio_stream(speech_metadata(), _chunks(speech_pcm))
    assert result.result is stt.SpeechResultState.SUCCESS
    assert re.sub(r"[^a-z ]", "", (result.text or "").lower()).strip() == (
        "turn on the living room light"
    )


@pytest.mark.parametrize("stt_model", [catalog.WHISPER, catalog.NOVA_3])
async def test_home_assistant_stop_ends_a_running_stream(
    hass: HomeAssistant, setup_entry: MockConfigEntry, speech_pcm: bytes
) -> None:
    """Stopping Home Assistant (which unloads no entry) ends a running stream at once with an
    error result: its work is a background task Home Assistant owns and cancels, not an orphan
    task (a Whisper stream uses no connection until it ends, so nothing else would stop it)."""
    engine = stt.async_get_speech_to_text_entity(hass, ENTITY_ID)
    assert engine is not None
    started = asyncio.Event()
    running = asyncio.create_task(
        engine.async_process_audio_stream(speech_metadata(), _endless(speech_pcm, started))
    )
    await asyncio.wait_for(started.wait(), HANG_GUARD)

    await hass.async_stop()
    result = await asyncio.wait_for(running, HANG_GUARD)
    assert result.result is stt.SpeechResultState.ERROR
