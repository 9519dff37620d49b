"""Failover error branches (issue 16), through Home Assistant's public paths: a cancelled
probe, and failover entities that are missing, cannot take the request, fail, hang or answer
something that is not audio. Each ends in a clear Home Assistant error, never a hang.

Uses the ``local_voice`` failover entities and the emulator of test_failover.py.
"""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from stt_helpers import speech_metadata

from homeassistant.components import stt, tts
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from tests.components import test_failover as base
from tests.components.test_failover import (
    LOCAL_STT,
    LOCAL_TTS,
    STT_DEGRADED,
    STT_ID,
    LocalSTT,
    LocalTTS,
    _model_calls,
    _speak,
    _transcribe,
)
from wyoming_server.emulator import EmulatorProcess

pytestmark = pytest.mark.usefixtures("internal_url")

# test_failover.py's fixtures: the emulator behind a gate, the entry, the local entities.
emulator, gate, entry_data = base.emulator, base.gate, base.entry_data
subentries_data, config_entry, local = base.subentries_data, base.config_entry, base.local

INTERNAL = base.TRIGGERS["5xx_after_retries"]
METADATA = speech_metadata("en-US")


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


async def test_a_missing_failover_entity_is_a_clear_error(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    emulator: EmulatorProcess,
    speech_pcm: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The failover entities named in the services do not exist (their integration was
    removed): Workers AI fails, then an STT error result and a translated TTS error."""
    await emulator.set_faults(**INTERNAL)
    client = await hass_client()
    async with asyncio.timeout(30):
        assert (await _transcribe(client, speech_pcm)) == {"text": None, "result": "error"}
        with pytest.raises(HomeAssistantError) as err:
            await _speak(hass, "Hello there.")
    missing = "the entity does not exist or is not loaded"
    assert f"the failover entity {LOCAL_STT}: {missing}" in caplog.text
    assert err.value.translation_key == "failover_failed"
    assert err.value.translation_placeholders == {
        **err.value.translation_placeholders,
        "entity": LOCAL_TTS,
        "error": missing,
    }


def _stt_cannot_take_the_language(local_stt: LocalSTT, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(local_stt, "supported_languages", ["de"])
    return "it cannot take en-US 16 kHz PCM audio"


def _stt_raises(local_stt: LocalSTT, monkeypatch: pytest.MonkeyPatch) -> str:
    async def broken(metadata: stt.SpeechMetadata, stream: AsyncIterable[bytes]) -> Any:
        async for _ in stream:
            pass
        raise RuntimeError("model file missing")

    monkeypatch.setattr(local_stt, "async_process_audio_stream", broken)
    return "RuntimeError('model file missing')"


def _stt_hangs(local_stt: LocalSTT, monkeypatch: pytest.MonkeyPatch) -> str:
    async def hang(metadata: stt.SpeechMetadata, stream: AsyncIterable[bytes]) -> Any:
        async for _ in stream:
            pass
        await asyncio.sleep(3600)

    monkeypatch.setattr(local_stt, "async_process_audio_stream", hang)
    monkeypatch.setattr("custom_components.workers_ai_speech.stt_failover.FAILOVER_TIMEOUT", 0.5)
    return "no result within 0.5 s"


@pytest.mark.parametrize("breaks", [_stt_cannot_take_the_language, _stt_raises, _stt_hangs])
async def test_stt_failover_that_fails_is_an_error_result(
    hass: HomeAssistant,
    local: tuple[LocalSTT, LocalTTS],
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    emulator: EmulatorProcess,
    speech_pcm: bytes,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    breaks: Callable[[LocalSTT, pytest.MonkeyPatch], str],
) -> None:
    """Workers AI fails, then the failover entity cannot take the audio, raises or hangs:
    /api/stt answers an error result (the reason logged), never hangs."""
    local_stt, _ = local
    reason = breaks(local_stt, monkeypatch)
    await emulator.set_faults(**INTERNAL)
    client = await hass_client()
    async with asyncio.timeout(30):
        assert (await _transcribe(client, speech_pcm)) == {"text": None, "result": "error"}
    assert f"and so did the failover entity {LOCAL_STT}: {reason}" in caplog.text


def _tts_raises(local_tts: LocalTTS, monkeypatch: pytest.MonkeyPatch) -> str:
    async def broken(message: str, language: str, options: dict[str, Any]) -> tts.TtsAudioType:
        raise RuntimeError("voice file missing")

    monkeypatch.setattr(local_tts, "async_get_tts_audio", broken)
    return "RuntimeError('voice file missing')"


def _tts_no_audio(local_tts: LocalTTS, monkeypatch: pytest.MonkeyPatch) -> str:
    async def silent(message: str, language: str, options: dict[str, Any]) -> tts.TtsAudioType:
        return None, None

    monkeypatch.setattr(local_tts, "async_get_tts_audio", silent)
    return "it returned no audio"


def _tts_not_audio(local_tts: LocalTTS, monkeypatch: pytest.MonkeyPatch) -> str:
    async def garbage(message: str, language: str, options: dict[str, Any]) -> tts.TtsAudioType:
        return "mp3", b"<html>this is not audio</html>" * 10

    monkeypatch.setattr(local_tts, "async_get_tts_audio", garbage)
    return "cannot decode audio"


@pytest.mark.parametrize("breaks", [_tts_raises, _tts_no_audio, _tts_not_audio])
async def test_tts_failover_that_fails_is_a_translated_error(
    hass: HomeAssistant,
    local: tuple[LocalSTT, LocalTTS],
    setup_entry: MockConfigEntry,
    emulator: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
    breaks: Callable[[LocalTTS, pytest.MonkeyPatch], str],
) -> None:
    """Workers AI fails, then the failover voice raises, returns nothing or something that is
    not audio: the TTS media source raises the translated failover error, never hangs."""
    _, local_tts = local
    reason = breaks(local_tts, monkeypatch)
    await emulator.set_faults(**INTERNAL)
    async with asyncio.timeout(30):
        with pytest.raises(HomeAssistantError) as err:
            await _speak(hass, "Hello there.")
    assert err.value.translation_key == "failover_failed"
    assert err.value.translation_placeholders is not None
    assert err.value.translation_placeholders["entity"] == LOCAL_TTS
    assert reason in err.value.translation_placeholders["error"]
