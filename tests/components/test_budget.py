"""Options (vocabulary, daily budget), the budget guard, and the repair issue when the free
allocation is spent — through Home Assistant's public APIs, against the emulator."""

from datetime import UTC, datetime
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    mock_restore_cache_with_extra_data,
)

from homeassistant.components import stt, tts
from homeassistant.const import CONF_LANGUAGE, CONF_MODEL
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir

from custom_components.workers_ai_speech.budget import (
    BUDGET_REFUSE,
    CONF_BUDGET_STT_MODEL,
    CONF_BUDGET_TTS_MODEL,
    CONF_DAILY_BUDGET,
)
from custom_components.workers_ai_speech.const import DOMAIN
from custom_components.workers_ai_speech.vocabulary import CONF_VOCABULARY, CONF_VOCABULARY_TERMS
from tests.components.stt_helpers import process_speech
from tests.components.tts_helpers import get_tts_audio, wav_duration
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import catalog
from wyoming_server.workers_ai.usage import Transport

pytestmark = pytest.mark.usefixtures("internal_url")

STT_ENTITY = "stt.workers_ai_stt_speech_to_text"
TTS_ENTITY = "tts.workers_ai_tts_text_to_speech"
MELO_ENTITY = "tts.melo_text_to_speech"
WAV = {tts.ATTR_PREFERRED_FORMAT: "wav"}  # no ffmpeg conversion (none is installed here)
NEURONS = "sensor.workers_ai_test_neurons_today"


@pytest.fixture
def subentries_data(subentries_data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The default services and a MeloTTS one."""
    melo = {CONF_MODEL: catalog.MELOTTS, CONF_LANGUAGE: "en"}
    return [
        *subentries_data,
        {"subentry_type": "tts", "title": "Melo", "data": melo, "unique_id": None},
    ]


async def _transcribe(hass: HomeAssistant, pcm: bytes) -> stt.SpeechResult:
    return await process_speech(hass, STT_ENTITY, pcm)


async def _set_options(hass: HomeAssistant, entry: MockConfigEntry, **options: object) -> None:
    """Save options through the options flow (the entry reloads)."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_VOCABULARY: True, CONF_VOCABULARY_TERMS: [" Plantuary ", ""], **options},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_the_options_flow_saves_vocabulary_and_budget(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    await _set_options(hass, setup_entry, **{CONF_DAILY_BUDGET: 500})
    assert setup_entry.options[CONF_VOCABULARY_TERMS] == ["Plantuary"]
    assert setup_entry.options[CONF_DAILY_BUDGET] == 500
    vocabulary = setup_entry.runtime_data.vocabulary
    assert vocabulary is not None
    assert vocabulary.current.keyterms[0] == "Plantuary"


async def test_over_budget_stt_and_tts_are_refused(
    hass: HomeAssistant, setup_entry: MockConfigEntry, speech_pcm: bytes
) -> None:
    """Over the budget with "refuse": speech-to-text answers an error, and so does the audio
    Home Assistant serves for either text-to-speech service (aura streams, MeloTTS does not)."""
    await _set_options(
        hass, setup_entry, **{CONF_DAILY_BUDGET: 1, CONF_BUDGET_STT_MODEL: BUDGET_REFUSE}
    )
    assert (await _transcribe(hass, speech_pcm)).result is stt.SpeechResultState.SUCCESS
    refused = await _transcribe(hass, speech_pcm)  # the first one spent the budget
    assert refused.result is stt.SpeechResultState.ERROR
    for engine in (TTS_ENTITY, MELO_ENTITY):
        with pytest.raises(HomeAssistantError, match="daily budget of 1 neurons is spent"):
            await get_tts_audio(hass, "Hello.", engine, WAV, "en")
    meter = setup_entry.runtime_data.client.usage
    assert meter is not None
    assert {model for model, _ in meter.today().totals} == {catalog.NOVA_3}


async def test_over_budget_stt_switches_to_the_cheaper_model(
    hass: HomeAssistant, setup_entry: MockConfigEntry, speech_pcm: bytes
) -> None:
    await _set_options(
        hass,
        setup_entry,
        **{CONF_DAILY_BUDGET: 1, CONF_BUDGET_STT_MODEL: catalog.WHISPER_LARGE_V3_TURBO},
    )
    await _transcribe(hass, speech_pcm)
    switched = await _transcribe(hass, speech_pcm)
    assert switched.result is stt.SpeechResultState.SUCCESS
    assert "living room light" in (switched.text or "").lower()
    meter = setup_entry.runtime_data.client.usage
    assert meter is not None
    totals = meter.today().totals
    assert totals[(catalog.NOVA_3, Transport.WEBSOCKET)].requests == 1
    assert totals[(catalog.WHISPER_LARGE_V3_TURBO, Transport.REST)].requests == 1
    assert not totals[(catalog.WHISPER_LARGE_V3_TURBO, Transport.REST)].estimated_neurons


async def test_a_repair_issue_says_the_free_allocation_is_spent(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    config_entry: MockConfigEntry,
    speech_pcm: bytes,
) -> None:
    freezer.move_to("2026-11-29T23:58:00+00:00")
    today = datetime(2026, 11, 29, tzinfo=UTC).isoformat()
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(NEURONS, "9999.0", {"last_reset": today}),
                {"native_value": 9999.0, "native_unit_of_measurement": "neurons"},
            )
        ],
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    issue_id = f"free_allocation_spent_{config_entry.entry_id}"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    await _transcribe(hass, speech_pcm)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "free_allocation_spent"

    # 00:00 UTC: the issue goes and the sensors start from zero, without any request.
    midnight = datetime(2026, 11, 30, tzinfo=UTC)
    freezer.move_to(midnight)
    async_fire_time_changed(hass, midnight)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert hass.states.get(NEURONS).state == "0.0"  # type: ignore[union-attr]


async def test_over_budget_tts_switches_to_the_cheaper_model(
    hass: HomeAssistant, setup_entry: MockConfigEntry, emulator: EmulatorProcess
) -> None:
    """The aura-2 stream that spends the budget is spoken by aura-2; the next message, fetched
    the way a media player does, by the fallback aura-1 (one WAV over REST)."""
    await _set_options(
        hass, setup_entry, **{CONF_DAILY_BUDGET: 1, CONF_BUDGET_TTS_MODEL: catalog.AURA_1}
    )
    meter = setup_entry.runtime_data.client.usage
    assert meter is not None
    extension, data = await get_tts_audio(hass, "Hello there.", TTS_ENTITY, WAV)
    assert extension == "wav"
    assert wav_duration(data) > 0.5
    assert set(meter.today().totals) == {(catalog.AURA_2_EN, Transport.WEBSOCKET)}
    extension, data = await get_tts_audio(hass, "Hello again, over budget.", TTS_ENTITY, WAV)
    assert extension == "wav"
    assert wav_duration(data) > 0.5
    totals = meter.today().totals
    assert totals[(catalog.AURA_2_EN, Transport.WEBSOCKET)].requests == 1
    assert totals[(catalog.AURA_1, Transport.REST)].requests == 1

    # The fallback model failing is a Home Assistant error naming the service, not audio.
    await emulator.set_faults(fail_next=1, status=400, code=5006, message="Invalid input")
    with pytest.raises(HomeAssistantError, match="Text-to-speech with @cf/deepgram/aura-2-en"):
        await get_tts_audio(hass, "A third message.", TTS_ENTITY, WAV)


async def test_over_budget_melotts_switches_to_the_fallback_model(
    hass: HomeAssistant, setup_entry: MockConfigEntry, speech_pcm: bytes
) -> None:
    """MeloTTS (whole messages over REST) over the budget: the fallback model speaks."""
    await _set_options(
        hass, setup_entry, **{CONF_DAILY_BUDGET: 1, CONF_BUDGET_TTS_MODEL: catalog.AURA_1}
    )
    await _transcribe(hass, speech_pcm)  # nova-3 spends the budget
    extension, data = await get_tts_audio(hass, "Hello there.", MELO_ENTITY, WAV, "en")
    assert extension == "wav"
    assert wav_duration(data) > 0.5
    meter = setup_entry.runtime_data.client.usage
    assert meter is not None
    totals = meter.today().totals
    assert totals[(catalog.AURA_1, Transport.REST)].requests == 1
    assert (catalog.MELOTTS, Transport.REST) not in totals
