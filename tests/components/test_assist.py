"""A household's Assist: default and UI-made pipelines in US English, and the voice select.

Each run goes speech (tests/data/living_room_light_en.wav) → nova-3 → Home Assistant's own
conversation agent → aura. The emulator gives every aura speaker its own speaking rate
(``speaker_length_scale``), so the duration of the reply tells which voice spoke it.
"""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)
from tts_helpers import TTS_ENTITY_ID, wav_duration

from homeassistant.components import assist_pipeline, tts
from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import Context, HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.setup import async_setup_component

from custom_components.workers_ai_speech.const import VOICE_FOLLOW_SELECT
from tests.components.stt_helpers import CHUNK, speech_metadata
from wyoming_server.emulator import speaker_length_scale
from wyoming_server.workers_ai import catalog

STT_ENTITY_ID = "stt.workers_ai_stt_speech_to_text"
SELECT_ID = "select.workers_ai_tts_voice"


@pytest.fixture(autouse=True)
async def voice_assistant(hass: HomeAssistant) -> None:
    """A US English household with Assist."""
    hass.config.language = "en"
    hass.config.country = "US"
    await async_process_ha_core_config(hass, {"internal_url": "http://example.local:8123"})
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "assist_pipeline", {})


async def _chunks(pcm: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(pcm), CHUNK):
        yield pcm[start : start + CHUNK]


async def _run(hass: HomeAssistant, pipeline_id: str, speech_pcm: bytes) -> dict[str, Any]:
    """Run the pipeline on the recording; return its TTS start data and reply audio (WAV),
    fetched as a satellite does, from the TTS stream URL."""
    events: list[assist_pipeline.PipelineEvent] = []
    await assist_pipeline.async_pipeline_from_audio_stream(
        hass,
        context=Context(),
        event_callback=events.append,
        stt_metadata=speech_metadata(""),  # satellites send none; the pipeline fills it in
        stt_stream=_chunks(speech_pcm),
        pipeline_id=pipeline_id,
        tts_audio_output={tts.ATTR_PREFERRED_FORMAT: "wav"},  # no ffmpeg here
        audio_settings=assist_pipeline.AudioSettings(is_vad_enabled=False),
    )
    by_type = {e.type: e.data for e in events}
    assert assist_pipeline.PipelineEventType.ERROR not in by_type, by_type
    output = by_type[assist_pipeline.PipelineEventType.TTS_END]["tts_output"]
    assert output["mime_type"] == "audio/x-wav"
    stream = tts.async_get_stream(hass, output["token"])
    assert stream is not None
    audio = b"".join([chunk async for chunk in stream.async_stream_result()])
    return {"start": by_type[assist_pipeline.PipelineEventType.TTS_START], "audio": audio}


async def _select(hass: HomeAssistant, option: str) -> None:
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: SELECT_ID, ATTR_OPTION: option},
        blocking=True,
    )


def _other_speaker(than: str) -> str:
    """The aura-2-en speaker whose emulated speaking rate differs most from ``than``'s."""
    scale = speaker_length_scale(catalog.AURA_2_EN, than)
    return max(
        catalog.AURA_2_EN_SPEAKERS,
        key=lambda s: abs(speaker_length_scale(catalog.AURA_2_EN, s) - scale),
    )


def _assert_spoken_by(audio: dict[str, Any], reference: dict[str, Any], ratio: float) -> None:
    """The reply's duration relative to ``reference`` matches the speakers' rate ratio
    (Piper's pauses do not all scale, hence the tolerance)."""
    measured = wav_duration(audio["audio"]) / wav_duration(reference["audio"])
    if ratio == 1.0:
        assert measured == pytest.approx(1.0, rel=0.03)
    else:
        assert abs(measured - 1.0) > 0.08
        assert (measured > 1.0) == (ratio > 1.0)
        assert abs(measured - ratio) < 0.25 * ratio


async def test_default_pipeline_speaks_with_the_selected_voice(
    hass: HomeAssistant, setup_entry: MockConfigEntry, speech_pcm: bytes
) -> None:
    """A pipeline made like Home Assistant's default one (en, US) works end to end in US
    English, stores "Follow the voice select", and speaks with whatever the select says."""
    pipeline = await assist_pipeline.async_create_default_pipeline(
        hass, STT_ENTITY_ID, TTS_ENTITY_ID, pipeline_name="Home Assistant"
    )
    assert pipeline is not None
    assert (pipeline.stt_language, pipeline.tts_language) == ("en-US", "en-US")
    assert pipeline.tts_voice == VOICE_FOLLOW_SELECT

    luna = await _run(hass, pipeline.id, speech_pcm)
    assert luna["start"]["language"] == "en-US"
    other = _other_speaker("luna")
    await _select(hass, other)
    changed = await _run(hass, pipeline.id, speech_pcm)
    assert changed["start"]["tts_input"] == luna["start"]["tts_input"]
    _assert_spoken_by(
        changed,
        luna,
        speaker_length_scale(catalog.AURA_2_EN, other)
        / speaker_length_scale(catalog.AURA_2_EN, "luna"),
    )


async def test_voice_chosen_in_the_pipeline_wins(
    hass: HomeAssistant, setup_entry: MockConfigEntry, speech_pcm: bytes
) -> None:
    """A pipeline whose voice was picked explicitly keeps it whatever the select says."""
    other = _other_speaker("luna")
    pipeline = await assist_pipeline.async_create_default_pipeline(
        hass, STT_ENTITY_ID, TTS_ENTITY_ID, pipeline_name="Explicit"
    )
    assert pipeline is not None
    await assist_pipeline.async_update_pipeline(hass, pipeline, tts_voice=other)
    before = await _run(hass, pipeline.id, speech_pcm)
    await _select(hass, "luna" if other != "luna" else "orion")
    after = await _run(hass, pipeline.id, speech_pcm)
    _assert_spoken_by(after, before, 1.0)


@pytest.mark.parametrize("language", ["en-US", "en"])
async def test_pipeline_made_in_the_ui(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    speech_pcm: bytes,
    language: str,
) -> None:
    """The pipeline editor stores the same tag for STT and TTS (en-US or en): both work."""
    client = await hass_ws_client(hass)
    voices = await _ws(client, {"type": "tts/engine/voices", "engine_id": TTS_ENTITY_ID,
                                "language": language})  # fmt: skip
    pipeline = await _ws(
        client,
        {
            "type": "assist_pipeline/pipeline/create",
            "conversation_engine": "conversation.home_assistant",
            "conversation_language": "en",
            "language": "en",
            "name": "Made in the UI",
            "stt_engine": STT_ENTITY_ID,
            "stt_language": language,
            "tts_engine": TTS_ENTITY_ID,
            "tts_language": language,
            "tts_voice": voices["voices"][0]["voice_id"],  # the editor's default
            "wake_word_entity": None,
            "wake_word_id": None,
        },
    )
    assert pipeline["tts_voice"] == VOICE_FOLLOW_SELECT
    reply = await _run(hass, pipeline["id"], speech_pcm)
    assert wav_duration(reply["audio"]) > 0.5


async def _ws(client: Any, message: dict[str, Any]) -> Any:
    await client.send_json_auto_id(message)
    response = await client.receive_json()
    assert response["success"], response
    return response["result"]


@pytest.mark.parametrize("language", ["en", "en-US", "en-GB"])
async def test_tts_get_url_in_every_english_tag(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    language: str,
) -> None:
    """POST /api/tts_get_url (what the media browser and scripts use) with en, en-US, en-GB."""
    client = await hass_client()
    response = await client.post(
        "/api/tts_get_url",
        json={
            "engine_id": TTS_ENTITY_ID,
            "message": "The living room light is on.",
            "language": language,
            "options": {"preferred_format": "wav"},
        },
    )
    assert response.status == 200, await response.text()
    audio = await (await client.get((await response.json())["path"])).read()
    assert wav_duration(audio) > 0.5
