"""An utterance past the audio limit (30 s; flux: its 15 s turn) through Home Assistant's
``POST /api/stt``: the user still gets the text of the audio within the limit, the owner a
WARNING log line and the "utterances cut" usage sensor, and no audio past the limit is billed
(the speech-to-text audio sensor, fed by the client's usage meter)."""

import logging

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from homeassistant.core import HomeAssistant

from wyoming_server.workers_ai import catalog

STT_ENTITY_ID = "stt.workers_ai_stt_speech_to_text"
CUT = "sensor.workers_ai_test_speech_to_text_utterances_cut_today"
STT_AUDIO = "sensor.workers_ai_test_speech_to_text_audio_today"
STREAM_SECONDS = 40
"""The request body: the command, then near-silence up to 40 s (more than every limit)."""
LIMIT_SECONDS = {catalog.WHISPER: 30.0, catalog.NOVA_3: 30.0, catalog.FLUX: 15.0}


def _value(hass: HomeAssistant, entity_id: str) -> float:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return float(state.state)


async def _post(hass_client: ClientSessionGenerator, pcm: bytes) -> dict[str, str]:
    client = await hass_client()
    response = await client.post(
        f"/api/stt/{STT_ENTITY_ID}",
        data=pcm + bytes(STREAM_SECONDS * 32000 - len(pcm)),
        headers={
            "X-Speech-Content": "format=wav; codec=pcm; sample_rate=16000; bit_rate=16; "
            "channel=1; language=en"
        },
    )
    assert response.status == 200, await response.text()
    result: dict[str, str] = await response.json()
    return result


@pytest.mark.parametrize("stt_model", [catalog.WHISPER, catalog.NOVA_3])
async def test_cut_utterance_keeps_the_command_and_is_counted(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    speech_pcm: bytes,
    caplog: pytest.LogCaptureFixture,
    stt_model: str,
) -> None:
    assert _value(hass, CUT) == 0
    with caplog.at_level(logging.WARNING):
        result = await _post(hass_client, speech_pcm)
    await hass.async_block_till_done()
    assert result["result"] == "success"
    assert "turn on the living room light" in result["text"].lower()
    assert _value(hass, CUT) == 1
    assert any(
        r.levelno == logging.WARNING and "audio cut after 30 s" in r.getMessage()
        for r in caplog.records
    ), caplog.text
    assert 0 < _value(hass, STT_AUDIO) <= LIMIT_SECONDS[stt_model] / 60


@pytest.mark.parametrize("stt_model", [catalog.FLUX])
async def test_flux_turn_without_end_is_cut_and_counted(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Silence only: flux never ends the turn; the 15 s turn limit does."""
    with caplog.at_level(logging.WARNING):
        result = await _post(hass_client, b"")
    await hass.async_block_till_done()
    assert result["result"] == "success"
    assert _value(hass, CUT) == 1
    assert "audio cut after 15 s" in caplog.text
    assert 0 < _value(hass, STT_AUDIO) <= 15 / 60


@pytest.mark.parametrize("stt_model", [catalog.NOVA_3])
async def test_utterance_within_the_limit_is_not_counted(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    speech_pcm: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await hass_client()
    response = await client.post(
        f"/api/stt/{STT_ENTITY_ID}",
        data=speech_pcm,
        headers={
            "X-Speech-Content": "format=wav; codec=pcm; sample_rate=16000; bit_rate=16; "
            "channel=1; language=en"
        },
    )
    assert (await response.json())["result"] == "success"
    await hass.async_block_till_done()
    assert _value(hass, CUT) == 0
    assert "audio cut" not in caplog.text
