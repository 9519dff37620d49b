"""Usage and latency sensors: they move with each request (real calls to the emulator), are
restored after a restart within the same UTC day, and start again at 00:00 UTC."""

import asyncio
import time
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from freezegun.api import FrozenDateTimeFactory
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)

from homeassistant.components import stt, tts
from homeassistant.core import HomeAssistant, State
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.helpers import entity_registry as er

from custom_components.workers_ai_speech.const import DOMAIN
from tests.components.stt_helpers import CHUNK, process_speech, speech_metadata
from wyoming_server.workers_ai import catalog

STT_ENTITY = "stt.workers_ai_stt_speech_to_text"
TTS_ENTITY = "tts.workers_ai_tts_text_to_speech"
NEURONS = "sensor.workers_ai_test_neurons_today"
SHARE = "sensor.workers_ai_test_daily_free_allocation_used"
COST_MONTH = "sensor.workers_ai_test_cost_this_month"
STT_AUDIO = "sensor.workers_ai_test_speech_to_text_audio_today"
TTS_CHARACTERS = "sensor.workers_ai_test_text_to_speech_characters_today"
STT_WAIT = "sensor.workers_ai_test_speech_to_text_wait_after_speech"
STT_WAIT_MEDIAN = "sensor.workers_ai_test_speech_to_text_wait_after_speech_median"
TTS_FIRST_AUDIO = "sensor.workers_ai_test_text_to_speech_time_to_first_audio"
TTS_FIRST_AUDIO_MEDIAN = "sensor.workers_ai_test_text_to_speech_time_to_first_audio_median"
LATENCY_SENSORS = {
    STT_WAIT: "stt_wait_last",
    STT_WAIT_MEDIAN: "stt_wait_median",
    TTS_FIRST_AUDIO: "tts_first_audio_last",
    TTS_FIRST_AUDIO_MEDIAN: "tts_first_audio_median",
}
"""The diagnostic latency sensors (disabled by default) and their description keys."""
DATA = Path(__file__).resolve().parents[1] / "data"
SILENCE_CHUNKS = 300
"""Silence after the command, 100 ms per chunk (a hang guard: flux's turn budget is 15 s)."""


def _value(hass: HomeAssistant, entity_id: str) -> float:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return float(state.state)


async def _setup_with_latency_sensors(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Enable the latency sensors in the entity registry, as a user would, then set up."""
    registry = er.async_get(hass)
    for entity_id, key in LATENCY_SENSORS.items():
        registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{entry.entry_id}_{key}",
            config_entry=entry,
            suggested_object_id=entity_id.removeprefix("sensor."),
            disabled_by=None,
        )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def _transcribe(hass: HomeAssistant, pcm: bytes) -> None:
    result = await process_speech(hass, STT_ENTITY, pcm)
    assert result.result is stt.SpeechResultState.SUCCESS


async def test_latency_sensors_are_disabled_by_default(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """Diagnostic latency sensors are registered disabled (noisy, for troubleshooting); the
    usage sensors are enabled."""
    registry = er.async_get(hass)
    for entity_id in LATENCY_SENSORS:
        entry = registry.async_get(entity_id)
        assert entry is not None, entity_id
        assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert hass.states.get(entity_id) is None
    for entity_id in (NEURONS, SHARE, COST_MONTH, STT_AUDIO, TTS_CHARACTERS):
        entry = registry.async_get(entity_id)
        assert entry is not None, entity_id
        assert entry.disabled_by is None
        assert hass.states.get(entity_id) is not None


async def test_sensors_move_with_each_request(
    hass: HomeAssistant, config_entry: MockConfigEntry, speech_pcm: bytes
) -> None:
    await _setup_with_latency_sensors(hass, config_entry)
    assert _value(hass, NEURONS) == 0
    state = hass.states.get(NEURONS)
    assert state is not None
    assert state.attributes["state_class"] == "total"
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert state.attributes["last_reset"] == today.isoformat()

    await _transcribe(hass, speech_pcm)  # nova-3 over the WebSocket: estimated
    await hass.async_block_till_done()
    seconds = len(speech_pcm) / 32000
    assert _value(hass, STT_AUDIO) == pytest.approx(seconds / 60, abs=0.01)
    assert _value(hass, NEURONS) == pytest.approx(836.36 * seconds / 60, rel=0.05)
    assert _value(hass, SHARE) == pytest.approx(_value(hass, NEURONS) / 100, rel=0.01)
    assert _value(hass, STT_WAIT) > 0

    await async_process_ha_core_config(hass, {"internal_url": "http://example.local:8123"})
    message = "Good night."
    await tts.async_get_media_source_audio(
        hass,
        tts.generate_media_source_id(
            hass, message, TTS_ENTITY, "en", {tts.ATTR_PREFERRED_FORMAT: "wav"}
        ),
    )
    await hass.async_block_till_done()
    assert _value(hass, TTS_CHARACTERS) == len(message)
    assert _value(hass, TTS_FIRST_AUDIO) > 0
    assert _value(hass, TTS_FIRST_AUDIO_MEDIAN) == _value(hass, TTS_FIRST_AUDIO)
    assert _value(hass, COST_MONTH) == 0  # well within the free allocation


async def test_values_are_restored_within_the_same_day_only(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today.replace(day=today.day - 1) if today.day > 1 else None
    restored = [
        (
            State(NEURONS, "1234.5", {"last_reset": today.isoformat()}),
            {"native_value": 1234.5, "native_unit_of_measurement": "neurons"},
        ),
    ]
    if yesterday is not None:
        restored.append(
            (
                State(STT_AUDIO, "3.0", {"last_reset": yesterday.isoformat()}),
                {"native_value": 3.0, "native_unit_of_measurement": "min"},
            )
        )
    mock_restore_cache_with_extra_data(hass, restored)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert _value(hass, NEURONS) == 1234.5
    assert _value(hass, SHARE) == pytest.approx(12.345)
    assert _value(hass, STT_AUDIO) == 0


async def test_a_new_utc_day_starts_from_zero(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    speech_pcm: bytes,
) -> None:
    freezer.move_to("2026-11-29T23:59:00+00:00")
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    await _transcribe(hass, speech_pcm)
    await hass.async_block_till_done()
    first_day = _value(hass, NEURONS)
    assert first_day > 0

    freezer.move_to("2026-11-30T00:01:00+00:00")
    await _transcribe(hass, speech_pcm)
    await hass.async_block_till_done()
    assert _value(hass, NEURONS) == pytest.approx(first_day)  # only the new request
    state = hass.states.get(NEURONS)
    assert state is not None
    assert state.attributes["last_reset"] == "2026-11-30T00:00:00+00:00"


@pytest.mark.parametrize("stt_model", [catalog.FLUX])
async def test_flux_end_of_turn_records_the_wait_after_speech(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    """The microphone stays open after the command, so flux ends the turn before the audio
    stream ends: the wait is still recorded, from when the audio flux decided on had arrived."""
    await _setup_with_latency_sensors(hass, config_entry)
    with wave.open(str(DATA / "living_room_light_en.wav"), "rb") as wav:
        speech = wav.readframes(wav.getnframes())
    chunks_read = 0
    speech_read = 0.0

    async def microphone() -> AsyncIterator[bytes]:
        nonlocal chunks_read, speech_read
        for start in range(0, len(speech), CHUNK):
            chunks_read += 1
            yield speech[start : start + CHUNK]
        speech_read = time.monotonic()
        for _ in range(SILENCE_CHUNKS):  # paced like a live microphone
            chunks_read += 1
            yield bytes(CHUNK)
            await asyncio.sleep(0.05)

    entity = stt.async_get_speech_to_text_engine(hass, STT_ENTITY)
    assert entity is not None
    result = await entity.async_process_audio_stream(speech_metadata(), microphone())
    answered = time.monotonic()
    await hass.async_block_till_done()
    assert result.result is stt.SpeechResultState.SUCCESS
    assert result.text is not None
    assert "living room light" in result.text.lower()
    assert chunks_read < len(speech) // CHUNK + SILENCE_CHUNKS  # the turn ended, not the stream
    # The audio flux decided on ends in the silence after the speech: it arrived after the last
    # speech chunk, so the wait is shorter than what the caller saw since then.
    wait_ms = _value(hass, STT_WAIT)
    assert 0 < wait_ms < (answered - speech_read) * 1000
    assert _value(hass, STT_WAIT_MEDIAN) == wait_ms
