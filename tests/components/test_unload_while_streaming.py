"""Unloading (and reloading) the entry while speech is being transcribed or spoken.

A satellite may be mid-sentence, or a streamed reply mid-answer, when the user reloads the
integration or Home Assistant stops. The running stream must end at once with an error (its
WebSocket closed, nothing left running), the entry must unload and load again, and the new
entity must transcribe (speak) normally.
"""

import asyncio
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from homeassistant.components import stt, tts
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_LANGUAGE, CONF_MODEL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from custom_components.workers_ai_speech.const import CONF_API_BASE_URL
from tests.components.stt_helpers import speech_metadata
from tests.components.tts_helpers import get_tts_audio, wav_duration
from tests.wire_recorder import Exchange, WireRecorder
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import catalog

pytestmark = pytest.mark.usefixtures("internal_url")

ENTITY_ID = "stt.workers_ai_stt_speech_to_text"
CHUNK = 3200  # 100 ms of 16 kHz 16-bit mono
HANG_GUARD = 10.0
"""Seconds after which a stream still running after the unload counts as leaked."""
AURA_ENTITY_ID = "tts.workers_ai_tts_text_to_speech"
MELO_ENTITY_ID = "tts.melo_text_to_speech"
WAV = {tts.ATTR_PREFERRED_FORMAT: "wav"}  # no ffmpeg conversion (none is installed here)


@pytest.fixture
def entry_data(entry_data: dict[str, str], wire: WireRecorder) -> dict[str, str]:
    """Workers AI reached through the recorder."""
    return {**entry_data, CONF_API_BASE_URL: wire.base_url}


@pytest.fixture
def subentries_data(subentries_data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The default services (aura-2-en for text-to-speech) and a MeloTTS one."""
    melo = {CONF_MODEL: catalog.MELOTTS, CONF_LANGUAGE: "en"}
    return [
        *subentries_data,
        {"subentry_type": "tts", "title": "Melo", "data": melo, "unique_id": None},
    ]


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


async def _endless_reply(closed: asyncio.Event) -> AsyncGenerator[str]:
    """A conversation agent's reply that keeps streaming: a sentence every 0.2 s."""
    try:
        while True:
            yield "The living room light is on. "
            await asyncio.sleep(0.2)
    finally:
        closed.set()


async def _eventually(condition: Callable[[], bool]) -> None:
    """Wait up to HANG_GUARD s for ``condition`` (made true by the recorder's thread)."""
    for _ in range(int(HANG_GUARD / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within the hang guard")


async def _recorded(wire: WireRecorder, model: str) -> Exchange:
    """The one request to ``model``, once the recorder has seen it."""
    await _eventually(lambda: bool(wire.runs(model)))
    [exchange] = wire.runs(model)
    return exchange


async def _reload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_unload_and_reload_while_a_tts_stream_runs(
    hass: HomeAssistant, setup_entry: MockConfigEntry, wire: WireRecorder
) -> None:
    """A streamed aura reply being spoken when the entry unloads ends at once with an error;
    the aura WebSocket is closed (``Close`` sent), the text stream closed; after the reload the
    service speaks again."""
    closed = asyncio.Event()
    stream = tts.async_create_stream(hass, AURA_ENTITY_ID, options=WAV)
    stream.async_set_message_stream(_endless_reply(closed))
    chunks: list[bytes] = []
    speaking = asyncio.Event()

    async def listen() -> None:  # a satellite playing the reply
        async for chunk in stream.async_stream_result():
            chunks.append(chunk)
            if len(chunks) > 1:  # the WAV header, then audio
                speaking.set()

    listener = asyncio.create_task(listen())
    await asyncio.wait_for(speaking.wait(), HANG_GUARD)

    assert await hass.config_entries.async_unload(setup_entry.entry_id)
    await hass.async_block_till_done()
    assert setup_entry.state is ConfigEntryState.NOT_LOADED
    with pytest.raises(HomeAssistantError, match="unloaded"):
        await asyncio.wait_for(listener, HANG_GUARD)
    assert closed.is_set()
    session = await _recorded(wire, catalog.AURA_2_EN)
    await _eventually(lambda: session.controls[-1:] == ["Close"])

    await _reload(hass, setup_entry)
    _, data = await get_tts_audio(hass, "Hello from Workers AI.", AURA_ENTITY_ID, WAV)
    assert wav_duration(data) > 0.5


async def test_unload_and_reload_while_a_melotts_request_runs(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    wire: WireRecorder,
    emulator: EmulatorProcess,
) -> None:
    """A MeloTTS request still waiting for Workers AI (3 s slow) when the entry unloads ends
    with an error instead of delivering audio of an unloaded service later."""
    await emulator.set_faults(model_latency_ms=3000)
    speaking = asyncio.create_task(
        get_tts_audio(hass, "The living room light is on.", MELO_ENTITY_ID, WAV)
    )
    await _recorded(wire, catalog.MELOTTS)

    assert await hass.config_entries.async_unload(setup_entry.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError, match="unloaded"):
        await asyncio.wait_for(speaking, HANG_GUARD)

    await emulator.reset_faults()
    await _reload(hass, setup_entry)
    extension, data = await get_tts_audio(hass, "Hello from Workers AI.", MELO_ENTITY_ID, WAV)
    assert extension == "wav"
    assert wav_duration(data) > 0.5
