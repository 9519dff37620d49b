"""Streamed replies with long pauses in their text, and spare aura WebSockets.

Through Home Assistant's public path: a TTS result stream fed with a text stream, read as the
satellite's HTTP request reads it (``/api/tts_proxy/<token>``), against the emulator, which
closes a speak WebSocket idle for 10 s (``speak_idle_timeout_s``, set in conftest.py).
"""

import array
import asyncio
import itertools
import struct
import time
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from tts_helpers import TTS_ENTITY_ID, wav_duration

from homeassistant.components import tts
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from custom_components.workers_ai_speech import tts_spares
from custom_components.workers_ai_speech.tts_silence import MAX_QUIET_S
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import catalog

pytestmark = pytest.mark.usefixtures("internal_url")

WAV = {tts.ATTR_PREFERRED_FORMAT: "wav"}
SENTENCES = (
    "The first answer is ready now.",
    "The search found three results.",
    "The last result is the best one.",
)


def _speech_seconds(wav: bytes) -> float:
    """Seconds of a streamed WAV's PCM without runs of exact zeros of 20 ms or more (the
    silence the entity adds; Piper's speech has no such runs)."""
    assert wav_duration(wav) > 0
    pcm = wav[wav.index(b"data", 36) + 8 :]
    rate = struct.unpack("<I", wav[24:28])[0]
    samples = array.array("h", pcm[: len(pcm) // 2 * 2])
    run_min = int(rate * 0.02)
    kept, run = 0, 0
    for sample in samples:
        if sample == 0:
            run += 1
            continue
        kept += 1 + (run if run < run_min else 0)
        run = 0
    kept += run if run < run_min else 0
    return kept / rate


async def _aura_connections(emulator: EmulatorProcess, *, reset: bool = False) -> int:
    counts = await emulator.request_counts(reset=reset)
    return counts["websocket"].get(catalog.AURA_2_EN, 0)


async def _read_stream(
    hass: HomeAssistant, client: Any, message: AsyncGenerator[str]
) -> tuple[bytes, list[float]]:
    """The WAV a satellite fetches for a streamed reply, and the arrival time of each chunk."""
    stream = tts.async_create_stream(hass, TTS_ENTITY_ID, options=WAV)
    stream.async_set_message_stream(message)
    response = await client.get(stream.url)
    assert response.status == 200
    data, times = b"", []
    async for chunk in response.content.iter_any():
        data += chunk
        times.append(time.monotonic())
    return data, times


async def test_reply_with_6_s_and_12_s_text_gaps_keeps_flowing(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    emulator: EmulatorProcess,
    hass_client: ClientSessionGenerator,
) -> None:
    """Text pausing 6 s, then 12 s (past the speak WebSocket's idle timeout): every sentence
    is spoken once, the byte stream never pauses longer than MAX_QUIET_S once audio started,
    and the pause past the idle timeout is bridged by a new WebSocket without an error."""
    whole_parts = []
    for sentence in SENTENCES:
        _, one = await _one_sentence(hass, hass_client, sentence)
        whole_parts.append(_speech_seconds(one))
    await _aura_connections(emulator, reset=True)

    async def text() -> AsyncGenerator[str]:
        yield SENTENCES[0]
        await asyncio.sleep(6)
        second_sent.append(time.monotonic())
        yield " " + SENTENCES[1]
        await asyncio.sleep(12)
        yield " " + SENTENCES[2]

    second_sent: list[float] = []
    data, times = await _read_stream(hass, await hass_client(), text())
    assert times[1] < second_sent[0]  # the first sentence is heard during the pause
    quiet = [b - a for a, b in itertools.pairwise(times[1:])]  # once audio started
    assert max(quiet) <= MAX_QUIET_S
    # The pauses are filled with silence (the reply lasts about as long as the text took);
    # without the silence, every sentence is there once: a repeat adds at least the shortest
    # sentence, a loss removes one.
    assert wav_duration(data) > 15
    assert abs(_speech_seconds(data) - sum(whole_parts)) < min(whole_parts) / 2
    assert await _aura_connections(emulator) == 2  # reopened once after the 12 s pause


async def _one_sentence(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, sentence: str
) -> tuple[list[float], bytes]:
    async def text() -> AsyncGenerator[str]:
        yield sentence

    data, times = await _read_stream(hass, await hass_client(), text())
    return times, data


@pytest.mark.usefixtures("spare_sockets")
async def test_replies_take_the_spare_websocket(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    emulator: EmulatorProcess,
    hass_client: ClientSessionGenerator,
) -> None:
    """Setup opens a spare; a reply takes it (no connection of its own) and opens the next;
    unloading closes the spare and opens no more."""
    await emulator.request_counts(reset=True)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    spares = config_entry.runtime_data.spares
    assert spares is not None
    assert await _aura_connections(emulator) == 1  # the spare, opened at setup
    for reply in (1, 2):
        _, data = await _one_sentence(hass, hass_client, SENTENCES[0])
        assert wav_duration(data) > 0.5
        await hass.async_block_till_done()
        assert spares.taken == reply
        assert await _aura_connections(emulator) == reply + 1  # the next spare only
    [opening] = spares._opening.values()
    spare = await opening
    assert spare is not None
    assert not spare.session.closed
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.NOT_LOADED
    assert spare.session.closed
    assert not spares._opening and not spares._expiry
    await asyncio.sleep(0.2)
    assert await _aura_connections(emulator) == 3


@pytest.mark.usefixtures("spare_sockets")
async def test_closed_or_expired_spare_falls_back_to_a_new_connection(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    emulator: EmulatorProcess,
    hass_client: ClientSessionGenerator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A spare Workers AI closed (idle timeout) is not used: the reply connects itself; an
    expired spare is closed and opened again."""
    monkeypatch.setattr(tts_spares, "SPARE_IDLE_S", 0.5)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    spares = config_entry.runtime_data.spares
    assert spares is not None
    await asyncio.sleep(1.3)  # expired twice at least: closed and opened again
    assert spares.opened >= 2
    # The spare open now is closed by the far side before the reply.
    for task in list(spares._opening.values()):
        spare = await task
        assert spare is not None
        await spare.session._ws.close()
    _, data = await _one_sentence(hass, hass_client, SENTENCES[1])
    assert wav_duration(data) > 0.5
    assert spares.taken == 0
    assert await hass.config_entries.async_unload(config_entry.entry_id)
