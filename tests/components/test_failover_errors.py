"""Failover error branches (issue 16), through Home Assistant's public paths: a cancelled
probe, and failover entities that are missing, cannot take the request, fail, hang or answer
something that is not audio. Each ends in a clear Home Assistant error, never a hang.

Uses the ``local_voice`` failover entities and the emulator of test_failover.py.
"""

import asyncio
from collections.abc import AsyncGenerator

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from homeassistant.components import stt
from homeassistant.core import HomeAssistant

from tests.components import test_failover as base
from tests.components.test_failover import (
    STT_DEGRADED,
    STT_ID,
    LocalSTT,
    LocalTTS,
    _model_calls,
    _transcribe,
)
from wyoming_server.emulator import EmulatorProcess

pytestmark = pytest.mark.usefixtures("internal_url")

# test_failover.py's fixtures: the emulator behind a gate, the entry, the local entities.
emulator, gate, entry_data = base.emulator, base.gate, base.entry_data
subentries_data, config_entry, local = base.subentries_data, base.config_entry, base.local

INTERNAL = {"fail_next": 50, "status": 500, "code": 3001, "message": "Internal"}
METADATA = stt.SpeechMetadata(
    language="en-US",
    format=stt.AudioFormats.WAV,
    codec=stt.AudioCodecs.PCM,
    bit_rate=stt.AudioBitRates.BITRATE_16,
    sample_rate=stt.AudioSampleRates.SAMPLERATE_16000,
    channel=stt.AudioChannels.CHANNEL_MONO,
)


async def test_a_cancelled_probe_lets_the_next_request_probe(
    hass: HomeAssistant,
    local: tuple[LocalSTT, LocalTTS],
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    emulator: EmulatorProcess,
    speech_pcm: bytes,
) -> None:
    """The probe is cancelled mid-utterance (the pipeline stopped listening): no failure is
    counted, the breaker stays half-open, and the next request probes Workers AI."""
    local_stt, _ = local
    client = await hass_client()
    await emulator.set_faults(**INTERNAL)
    for _ in range(2):  # K=2: open for 1 s
        await _transcribe(client, speech_pcm)
    await emulator.reset_faults()
    await asyncio.sleep(1.2)
    await hass.async_block_till_done()
    assert hass.states.get(STT_DEGRADED).attributes["state"] == "half_open"

    never = asyncio.Event()

    async def stops_half_way() -> AsyncGenerator[bytes]:
        yield speech_pcm[:32000]
        await never.wait()

    entity = stt.async_get_speech_to_text_entity(hass, STT_ID)
    assert entity is not None
    probe = asyncio.create_task(
        entity.internal_async_process_audio_stream(METADATA, stops_half_way())
    )
    await asyncio.sleep(0.5)  # nova-3 hears the first second
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    await hass.async_block_till_done()
    assert hass.states.get(STT_DEGRADED).attributes["state"] == "half_open"
    await emulator.request_counts(reset=True)

    result = await _transcribe(client, speech_pcm)  # the next probe
    assert result["text"] == "Turn on the living room light."
    assert await _model_calls(emulator) == 1
    assert hass.states.get(STT_DEGRADED).attributes["state"] == "closed"
    assert len(local_stt.heard) == 2
