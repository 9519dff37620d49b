"""Speech-to-text: real speech through the Assist pipeline, the HTTP API and the entity.

Every transcript comes from the emulator's Whisper tiny.en run on the real recording
tests/data/living_room_light_en.wav ("Turn on the living room light.").
"""

import re
from collections.abc import AsyncIterator

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from homeassistant.components import assist_pipeline, stt
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component

from custom_components.workers_ai_speech import stt as stt_module
from custom_components.workers_ai_speech.const import DOMAIN, LANGUAGE_AUTO
from custom_components.workers_ai_speech.stt import MAX_TURN_SECONDS
from tests.components.stt_helpers import speech_metadata
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import catalog

ENTITY_ID = "stt.workers_ai_stt_speech_to_text"
CHUNK = 3200  # 100 ms of 16 kHz 16-bit mono


def _normalize(text: str) -> str:
    return re.sub(r"[^a-z ]", "", text.lower()).strip()


class AudioSource:
    """An async audio stream of 100 ms chunks that records how much of it was read."""

    def __init__(self, pcm: bytes) -> None:
        self.pcm = pcm
        self.bytes_read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.pcm), CHUNK):
            chunk = self.pcm[start : start + CHUNK]
            self.bytes_read += len(chunk)
            yield chunk


async def _run_pipeline(hass: HomeAssistant, source: AudioSource) -> list:
    """Run an STT-only Assist pipeline (VAD off, doc §6.1) and return its events."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "assist_pipeline", {})
    pipeline = await assist_pipeline.async_create_default_pipeline(
        hass,
        stt_engine_id=ENTITY_ID,
        tts_engine_id="tts.workers_ai_tts_text_to_speech",
        pipeline_name="Workers AI",
    )
    assert pipeline is not None
    events: list[assist_pipeline.PipelineEvent] = []
    await assist_pipeline.async_pipeline_from_audio_stream(
        hass,
        context=Context(),
        event_callback=events.append,
        stt_metadata=speech_metadata(""),  # satellites send none; the pipeline fills it in
        stt_stream=aiter(source),
        pipeline_id=pipeline.id,
        start_stage=assist_pipeline.PipelineStage.STT,
        end_stage=assist_pipeline.PipelineStage.STT,
        audio_settings=assist_pipeline.AudioSettings(is_vad_enabled=False),
    )
    return events


def _stt_text(events: list) -> str:
    types = [e.type for e in events]
    assert assist_pipeline.PipelineEventType.STT_END in types, events
    end = next(e for e in events if e.type is assist_pipeline.PipelineEventType.STT_END)
    return end.data["stt_output"]["text"]


@pytest.mark.parametrize(
    "stt_model",
    [
        catalog.NOVA_3,
        catalog.WHISPER,
        catalog.WHISPER_TINY_EN,
        catalog.WHISPER_LARGE_V3_TURBO,
        catalog.FLUX,
    ],
)
async def test_pipeline_transcribes_real_speech(
    hass: HomeAssistant, setup_entry: MockConfigEntry, stt_model: str, speech_pcm: bytes
) -> None:
    """The recording comes back as its words through every ASR model, in a pipeline created
    the way Home Assistant creates its default one (language en, country US: en-US)."""
    source = AudioSource(speech_pcm)
    events = await _run_pipeline(hass, source)
    start = next(e for e in events if e.type is assist_pipeline.PipelineEventType.STT_START)
    assert start.data["engine"] == ENTITY_ID
    assert start.data["metadata"]["language"] == "en-US"
    # A cloud model wants untouched audio (as Home Assistant Cloud's speech service).
    assert start.data["audio_processing"]["prefers_auto_gain_enabled"] is False
    assert start.data["audio_processing"]["prefers_noise_reduction_enabled"] is False
    assert _normalize(_stt_text(events)) == "turn on the living room light"


@pytest.mark.parametrize("stt_model", [catalog.NOVA_3])
async def test_nova3_streaming_keeps_the_case_and_punctuation(
    hass: HomeAssistant, setup_entry: MockConfigEntry, speech_pcm: bytes
) -> None:
    """nova-3 (smart_format) returns the sentence as spoken, as soon as the stream ends."""
    source = AudioSource(speech_pcm)
    events = await _run_pipeline(hass, source)
    assert _stt_text(events) == "Turn on the living room light."
    assert source.bytes_read == len(source.pcm)


@pytest.mark.parametrize("stt_model", [catalog.FLUX])
async def test_flux_ends_the_turn_itself(
    hass: HomeAssistant, setup_entry: MockConfigEntry, speech_pcm: bytes
) -> None:
    """Flux needs no VAD from Home Assistant and stops reading at EndOfTurn.

    The stream goes on with silence for longer than a turn may last; the entity returns the
    transcript without reading it all.
    """
    engine = stt.async_get_speech_to_text_entity(hass, ENTITY_ID)
    assert engine is not None
    assert engine.audio_processing.requires_external_vad is False
    silence = bytes(int(MAX_TURN_SECONDS * 32000) * 2)
    source = AudioSource(speech_pcm + silence)
    events = await _run_pipeline(hass, source)
    assert _normalize(_stt_text(events)) == "turn on the living room light"
    assert source.bytes_read < len(source.pcm)


@pytest.mark.parametrize("stt_model", [catalog.FLUX])
async def test_flux_turn_budget_without_speech(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """Endless silence: no turn ever ends, so the entity stops after MAX_TURN_SECONDS."""
    silence = bytes(int(MAX_TURN_SECONDS * 32000) * 3)
    source = AudioSource(silence)
    engine = stt.async_get_speech_to_text_entity(hass, ENTITY_ID)
    result = await engine.async_process_audio_stream(speech_metadata(), aiter(source))
    assert result.result is stt.SpeechResultState.SUCCESS
    assert result.text == ""
    assert source.bytes_read == MAX_TURN_SECONDS * 32000


@pytest.mark.parametrize("language", ["en", "en-US", "en-GB"])
async def test_http_api_transcribes(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    speech_pcm: bytes,
    language: str,
) -> None:
    """POST /api/stt/<entity> (4 KB chunks from HA's HTTP view) with nova-3, in every English
    tag Home Assistant may send."""
    client = await hass_client()
    response = await client.post(
        f"/api/stt/{ENTITY_ID}",
        data=speech_pcm,
        headers={
            "X-Speech-Content": "format=wav; codec=pcm; sample_rate=16000; bit_rate=16; "
            f"channel=1; language={language}"
        },
    )
    assert response.status == 200
    assert await response.json() == {"text": "Turn on the living room light.", "result": "success"}
    # The HTTP view records when the entity was last used.
    assert hass.states.get(ENTITY_ID).state not in ("unknown", "unavailable")


async def test_unsupported_language_is_refused(
    hass: HomeAssistant, setup_entry: MockConfigEntry, hass_client: ClientSessionGenerator
) -> None:
    """A pinned language is advertised in all its tags; others are refused before streaming."""
    engine = stt.async_get_speech_to_text_entity(hass, ENTITY_ID)
    assert {"en", "en-US", "en-GB", "en-AU"} <= set(engine.supported_languages)
    assert all(tag.startswith("en") for tag in engine.supported_languages)
    assert engine.check_metadata(speech_metadata("en-GB"))
    assert not engine.check_metadata(speech_metadata("de"))
    client = await hass_client()
    response = await client.post(
        f"/api/stt/{ENTITY_ID}",
        data=b"\0" * 3200,
        headers={
            "X-Speech-Content": "format=wav; codec=pcm; sample_rate=16000; bit_rate=16; "
            "channel=1; language=de"
        },
    )
    assert response.status == 415


@pytest.mark.parametrize("stt_language", [LANGUAGE_AUTO])
@pytest.mark.parametrize("stt_model", [catalog.WHISPER_LARGE_V3_TURBO, catalog.NOVA_3])
async def test_automatic_language_detection(
    hass: HomeAssistant, setup_entry: MockConfigEntry, stt_model: str, speech_pcm: bytes
) -> None:
    """With "auto" every model language is offered, and the model gets none to pin."""
    engine = stt.async_get_speech_to_text_entity(hass, ENTITY_ID)
    assert {"de", "de-DE", "es-419", "pt-BR", "en"} <= set(engine.supported_languages)
    source = AudioSource(speech_pcm)
    result = await engine.async_process_audio_stream(speech_metadata("de"), aiter(source))
    assert result.result is stt.SpeechResultState.SUCCESS
    assert _normalize(result.text) == "turn on the living room light"


@pytest.mark.parametrize("stt_model", [catalog.WHISPER_TINY_EN])
async def test_no_audio_is_no_text(hass: HomeAssistant, setup_entry: MockConfigEntry) -> None:
    """An empty stream is not uploaded: an empty transcript ("no text recognized")."""
    engine = stt.async_get_speech_to_text_entity(hass, ENTITY_ID)
    result = await engine.async_process_audio_stream(speech_metadata(), aiter(AudioSource(b"")))
    assert result == stt.SpeechResult("", stt.SpeechResultState.SUCCESS)


@pytest.mark.parametrize("stt_model", [catalog.NOVA_3, catalog.WHISPER_TINY_EN])
async def test_workers_ai_error_is_an_error_result(
    hass: HomeAssistant, setup_entry: MockConfigEntry, emulator: EmulatorProcess, speech_pcm: bytes
) -> None:
    """A rejected request (5006, not retryable) gives SpeechResult(None, ERROR)."""
    await emulator.set_faults(fail_next=1, status=400, code=5006, message="Bad input")
    engine = stt.async_get_speech_to_text_entity(hass, ENTITY_ID)
    source = AudioSource(speech_pcm)
    result = await engine.async_process_audio_stream(speech_metadata(), aiter(source))
    assert result == stt.SpeechResult(None, stt.SpeechResultState.ERROR)
    assert not hass.config_entries.flow.async_progress_by_handler("workers_ai_speech")


@pytest.mark.parametrize("stt_model", [catalog.NOVA_3, catalog.WHISPER_TINY_EN])
async def test_rejected_token_starts_reauth(
    hass: HomeAssistant, setup_entry: MockConfigEntry, emulator: EmulatorProcess, speech_pcm: bytes
) -> None:
    """A 401/10000 during transcription: error result, and a reauth flow for the entry."""
    await emulator.set_faults(fail_next=1, status=401, code=10000, message="Authentication error")
    engine = stt.async_get_speech_to_text_entity(hass, ENTITY_ID)
    result = await engine.async_process_audio_stream(
        speech_metadata(), aiter(AudioSource(speech_pcm))
    )
    await hass.async_block_till_done()
    assert result == stt.SpeechResult(None, stt.SpeechResultState.ERROR)
    flows = hass.config_entries.flow.async_progress_by_handler("workers_ai_speech")
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]


@pytest.mark.parametrize("stt_model", [catalog.WHISPER_TINY_EN])
async def test_spent_daily_allocation_is_a_repair_issue(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    emulator: EmulatorProcess,
    speech_pcm: bytes,
    issue_registry: ir.IssueRegistry,
) -> None:
    """429/3036: an error result at once (no retries), no reauth, and a repair issue that
    names the 00:00 UTC reset; the next successful request clears it."""
    message = "you have used up your daily free allocation of 10,000 neurons, please upgrade"
    await emulator.set_faults(fail_next=2, status=429, code=3036, message=message)
    engine = stt.async_get_speech_to_text_entity(hass, ENTITY_ID)
    result = await engine.async_process_audio_stream(
        speech_metadata(), aiter(AudioSource(speech_pcm))
    )
    await hass.async_block_till_done()
    assert result == stt.SpeechResult(None, stt.SpeechResultState.ERROR)
    assert (await emulator.get_faults())["pending_failures"] == 1  # one request, not retried
    issue = issue_registry.async_get_issue(DOMAIN, "quota_exceeded")
    assert issue is not None
    assert issue.translation_placeholders == {"reset": "00:00 UTC"}
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)

    await emulator.reset_faults()
    result = await engine.async_process_audio_stream(
        speech_metadata(), aiter(AudioSource(speech_pcm))
    )
    assert result.result is stt.SpeechResultState.SUCCESS
    assert issue_registry.async_get_issue(DOMAIN, "quota_exceeded") is None


@pytest.mark.parametrize("stt_model", [catalog.WHISPER_TINY_EN])
@pytest.mark.parametrize(
    ("code", "message"),
    [
        (5035, "Paid plan required"),
        (3023, "Service unavailable for account"),
        (5018, "The account is not allowed to access this model"),
    ],
)
async def test_paid_plan_or_refused_account_does_not_start_reauth(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    emulator: EmulatorProcess,
    speech_pcm: bytes,
    code: int,
    message: str,
) -> None:
    """403/5035 (the model needs the Workers Paid plan), 403/3023 (account blocked), 403/5018
    (model not allowed for the account): the token is fine and a new one would not help, so
    no re-authentication."""
    await emulator.set_faults(fail_next=1, status=403, code=code, message=message)
    engine = stt.async_get_speech_to_text_entity(hass, ENTITY_ID)
    result = await engine.async_process_audio_stream(
        speech_metadata(), aiter(AudioSource(speech_pcm))
    )
    await hass.async_block_till_done()
    assert result == stt.SpeechResult(None, stt.SpeechResultState.ERROR)
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


@pytest.mark.parametrize("stt_model", [catalog.NOVA_3])
async def test_final_transcript_waits_no_longer_than_its_budget(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    emulator: EmulatorProcess,
    speech_pcm: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """nova-3 slower than the voice-path budget after the end of speech: an error result, not
    a long wait (the request timeout is shrunk to 0.5 s and the model made 3 s slow)."""
    monkeypatch.setattr(stt_module, "REQUEST_TIMEOUT", 0.5)
    await emulator.set_faults(model_latency_ms=3000)
    engine = stt.async_get_speech_to_text_entity(hass, ENTITY_ID)
    result = await engine.async_process_audio_stream(
        speech_metadata(), aiter(AudioSource(speech_pcm))
    )
    assert result == stt.SpeechResult(None, stt.SpeechResultState.ERROR)
