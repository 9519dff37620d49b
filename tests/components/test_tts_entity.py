"""Text-to-speech: aura streamed over the WebSocket, MeloTTS whole messages over REST.

Audio is fetched the way Home Assistant serves it (its media source, a text stream); only the
sample-rate test calls the entity's streaming method itself (the path Home Assistant takes),
because Home Assistant converts any requested sample rate with ffmpeg, which is not installed
here. Audio comes from the emulator's Piper voice; each (model, speaker) speaks at its own rate
(``speaker_length_scale``), so durations tell which voice spoke.
"""

import asyncio
import struct
from collections.abc import AsyncGenerator
from types import MappingProxyType
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator
from tts_helpers import TTS_ENTITY_ID, get_tts_audio, wav_duration

from homeassistant.components import tts
from homeassistant.config_entries import SOURCE_REAUTH, ConfigSubentry
from homeassistant.const import CONF_LANGUAGE, CONF_MODEL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir

from custom_components.workers_ai_speech import tts_aura_link, tts_sentences
from custom_components.workers_ai_speech.const import (
    ATTR_SELECTED_VOICE,
    CONF_VOICE,
    VOICE_FOLLOW_SELECT,
)
from custom_components.workers_ai_speech.languages import base_languages, language_tags
from custom_components.workers_ai_speech.tts_sentences import sentence_batches
from wyoming_server.emulator import EmulatorProcess, speaker_length_scale
from wyoming_server.workers_ai import audio, catalog

pytestmark = pytest.mark.usefixtures("internal_url")

WAV = {tts.ATTR_PREFERRED_FORMAT: "wav"}  # no ffmpeg conversion (none is installed here)


def _entity(hass: HomeAssistant, entity_id: str = TTS_ENTITY_ID) -> Any:
    entity = hass.data[tts.DATA_COMPONENT].get_entity(entity_id)
    assert entity is not None
    return entity


async def test_entity_attributes(hass: HomeAssistant, setup_entry: MockConfigEntry) -> None:
    """Every English tag; "Follow the voice select" first, then the speakers in a fixed order;
    the select's voice in the default options (so in the cache key); preferred formats."""
    entity = _entity(hass)
    assert {"en", "en-US", "en-GB", "en-AU", "en-CA"} <= set(entity.supported_languages)
    assert all(tag.split("-")[0] == "en" for tag in entity.supported_languages)
    assert entity.default_language == "en"
    assert entity.supported_options == [
        tts.ATTR_VOICE,
        tts.ATTR_PREFERRED_FORMAT,
        tts.ATTR_PREFERRED_SAMPLE_RATE,
        tts.ATTR_PREFERRED_SAMPLE_CHANNELS,
    ]
    assert entity.default_options == {
        tts.ATTR_VOICE: VOICE_FOLLOW_SELECT,
        ATTR_SELECTED_VOICE: "luna",
    }
    assert entity.async_supports_streaming_input()
    for language in ("en", "en-US", "en-GB"):
        voices = entity.async_get_supported_voices(language)
        assert voices[0] == tts.Voice(VOICE_FOLLOW_SELECT, "Follow the voice select")
        assert [v.voice_id for v in voices[1:]] == sorted(catalog.AURA_2_EN_SPEAKERS)
    assert voices[1] == tts.Voice("amalthea", "Amalthea")
    assert entity.async_get_supported_voices("es") is None


async def test_message_is_streamed_as_wav(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """A whole message (tts.speak, a media player) goes over the WebSocket as WAV."""
    extension, data = await get_tts_audio(hass, "Hello from Workers AI.", options=WAV)
    assert extension == "wav"
    assert data[:4] == b"RIFF"
    assert wav_duration(data) > 0.5


async def test_llm_text_stream_is_spoken_sentence_by_sentence(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """Text arriving in arbitrary pieces (LLM deltas) is spoken; longer text, longer audio."""

    async def deltas() -> AsyncGenerator[str]:
        for piece in ("The living ro", "om light is on. It is", " twenty one degrees", " inside."):
            yield piece

    stream = tts.async_create_stream(hass, TTS_ENTITY_ID, options=WAV)
    stream.async_set_message_stream(deltas())
    streamed = b"".join([chunk async for chunk in stream.async_stream_result()])

    _, short = await get_tts_audio(hass, "The living room light is on.", options=WAV)
    assert wav_duration(streamed) > wav_duration(short) * 1.3


async def test_sentence_batches_follow_the_schedule(hass: HomeAssistant) -> None:
    """First sentence alone, then up to three, then everything available."""

    async def text() -> AsyncGenerator[str]:
        yield "The light is on. It is warm today. Dinner is at seven. The door is locked."
        yield " Music is playing now. The alarm is set. Good night everyone."

    batches = [b async for b in sentence_batches(hass, text())]
    assert batches == [
        "The light is on.",
        "It is warm today. Dinner is at seven. The door is locked.",
        "Music is playing now. The alarm is set. Good night everyone.",
    ]


async def test_sentence_batches_stay_within_the_request_limit(hass: HomeAssistant) -> None:
    """No batch is longer than the model takes per request; a sentence longer than that is
    split at spaces; nothing is lost or reordered."""
    text = "One two three. " * 10 + "This sentence is far too long for one request of forty."

    async def whole() -> AsyncGenerator[str]:
        yield text

    batches = [b async for b in sentence_batches(hass, whole(), max_chars=40)]
    assert max(len(b) for b in batches) <= 40
    assert " ".join(batches).split() == text.split()
    assert len(batches) < text.count(".")  # sentences are still batched


async def test_sentence_batches_empty_text(hass: HomeAssistant) -> None:
    """Whitespace only: nothing to speak."""

    async def text() -> AsyncGenerator[str]:
        yield "   "

    assert [b async for b in sentence_batches(hass, text())] == []


async def test_sentence_batches_stop_reading_when_closed(hass: HomeAssistant) -> None:
    """A listener that goes away (barge-in, closed player) stops the text reader too."""
    reading = asyncio.Event()
    closed = asyncio.Event()

    async def endless() -> AsyncGenerator[str]:
        try:
            # The detector knows a sentence ended once the next one starts.
            yield "The first sentence is here. And the second"
            reading.set()
            await asyncio.Event().wait()  # the LLM never finishes
            yield "Never."
        finally:
            closed.set()

    batches = sentence_batches(hass, endless())
    assert await anext(batches) == "The first sentence is here."
    await reading.wait()
    await batches.aclose()
    assert closed.is_set()


async def test_sentence_batches_pass_on_text_errors(hass: HomeAssistant) -> None:
    """An error of the text stream reaches the audio consumer (nothing is silently dropped)."""

    async def failing() -> AsyncGenerator[str]:
        yield "A complete sentence comes first. Then"
        raise RuntimeError("LLM failed")

    batches = sentence_batches(hass, failing())
    with pytest.raises(RuntimeError, match="LLM failed"):
        async for _batch in batches:
            pass


async def test_explicit_voice_option_is_used(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """options={"voice": ...} picks the speaker (each speaks at its own rate in the emulator)."""
    by_rate = sorted(
        catalog.AURA_2_EN_SPEAKERS, key=lambda s: speaker_length_scale(catalog.AURA_2_EN, s)
    )
    fast, slow = by_rate[0], by_rate[-1]
    message = "This sentence is long enough to hear the speaking rate of a voice."
    _, slow_audio = await get_tts_audio(hass, message, options={**WAV, tts.ATTR_VOICE: slow})
    _, fast_audio = await get_tts_audio(hass, message, options={**WAV, tts.ATTR_VOICE: fast})
    assert wav_duration(slow_audio) > wav_duration(fast_audio) * 1.1


async def test_voice_of_another_model_falls_back_to_the_default(
    hass: HomeAssistant, setup_entry: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """A pipeline that stored a voice this model lacks (aquila is aura-2-es) still speaks,
    with the model's default voice (luna), and the log says so."""
    message = "This sentence is long enough to hear the speaking rate of a voice."
    _, aquila = await get_tts_audio(hass, message, options={**WAV, tts.ATTR_VOICE: "aquila"})
    _, luna = await get_tts_audio(hass, message, options={**WAV, tts.ATTR_VOICE: "luna"})
    assert aquila == luna
    assert "has no voice 'aquila'" in caplog.text


async def _one(text: str) -> AsyncGenerator[str]:
    yield text


async def test_missing_configured_voice_falls_back_to_the_model_default(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """A subentry without a (valid) voice uses the model's default speaker (aura-1: angus)."""
    hass.config_entries.async_add_subentry(
        setup_entry,
        ConfigSubentry(
            subentry_type="tts",
            title="Aura One",
            data=MappingProxyType({CONF_MODEL: catalog.AURA_1, CONF_LANGUAGE: "en"}),
            unique_id=None,
        ),
    )
    await hass.async_block_till_done()  # the entry reloads with the new service
    entity = _entity(hass, "tts.aura_one_text_to_speech")
    assert entity.default_options[ATTR_SELECTED_VOICE] == "angus"
    assert hass.states.get("select.aura_one_voice").state == "angus"


async def test_stream_error_is_a_translated_error(
    hass: HomeAssistant, setup_entry: MockConfigEntry, emulator: EmulatorProcess
) -> None:
    """A refused aura WebSocket becomes a HomeAssistantError naming the model; no reauth."""
    await emulator.set_faults(fail_next=1, status=400, code=5006, message="Bad input")
    with pytest.raises(HomeAssistantError, match="Text-to-speech with @cf/deepgram/aura-2-en"):
        await get_tts_audio(hass, "Hello.", options=WAV)
    assert not hass.config_entries.flow.async_progress_by_handler("workers_ai_speech")


@pytest.mark.parametrize("rate", [16000, 48000])
async def test_stream_uses_the_sample_rate_home_assistant_asks_for(
    hass: HomeAssistant, setup_entry: MockConfigEntry, rate: int
) -> None:
    """An ESPHome satellite asks for WAV at 16 kHz: aura produces that rate itself."""
    response = await _entity(hass).async_stream_tts_audio(
        tts.TTSAudioRequest(
            "en-US",
            {tts.ATTR_PREFERRED_FORMAT: "wav", tts.ATTR_PREFERRED_SAMPLE_RATE: rate},
            _one("Hello from Workers AI."),
        )
    )
    data = b"".join([chunk async for chunk in response.data_gen])
    assert response.extension == "wav"
    assert struct.unpack("<I", data[24:28])[0] == rate
    assert wav_duration(data) > 0.5


async def test_stream_rejected_token_starts_reauth(
    hass: HomeAssistant, setup_entry: MockConfigEntry, emulator: EmulatorProcess
) -> None:
    """The WebSocket handshake refused with 401: error, and reauth of the entry."""
    await emulator.set_faults(fail_next=1, status=401, code=10000, message="Authentication error")
    with pytest.raises(HomeAssistantError):
        await get_tts_audio(hass, "Hello.", options=WAV)
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler("workers_ai_speech")
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]


async def test_listener_that_goes_away_stops_the_speech(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """Home Assistant closes the audio stream early (its consumer was cancelled): the text
    stream is closed and nothing of the entity keeps running (the test's cleanup check
    fails on a lingering task)."""
    closed = asyncio.Event()

    async def endless() -> AsyncGenerator[str]:
        try:
            while True:
                yield "The living room light is on. "
                await asyncio.sleep(0.2)
        finally:
            closed.set()

    response = await _entity(hass).async_stream_tts_audio(
        tts.TTSAudioRequest("en", dict(WAV), endless())
    )
    assert (await anext(response.data_gen))[:4] == b"RIFF"
    assert await anext(response.data_gen)  # speaking
    await response.data_gen.aclose()
    assert closed.is_set()


@pytest.fixture
def subentries_data() -> list[dict[str, Any]]:
    """Override: a MeloTTS service (Chinese by default) next to the Aura 2 one."""
    return [
        {
            "subentry_type": "tts",
            "title": "Workers AI TTS",
            "data": {CONF_MODEL: catalog.AURA_2_EN, CONF_LANGUAGE: "en", CONF_VOICE: "luna"},
            "unique_id": None,
        },
        {
            "subentry_type": "tts",
            "title": "Melo",
            "data": {CONF_MODEL: catalog.MELOTTS, CONF_LANGUAGE: "zh"},
            "unique_id": None,
        },
    ]


MELOTTS_VOICES = {
    "en": "MeloTTS English",
    "zh": "MeloTTS Chinese",
    "ja": "MeloTTS Japanese",
    "ko": "MeloTTS Korean",
}
"""One voice per language Workers AI's MeloTTS speaks (§9 C4 of the API notes: en, zh, ja, ko;
es and fr are refused), named for the pipeline editor."""


async def test_melotts_lists_one_voice_per_language(
    hass: HomeAssistant, setup_entry: MockConfigEntry, hass_ws_client: WebSocketGenerator
) -> None:
    """The pipeline editor (``tts/engine/voices``) shows MeloTTS's voice for each of its
    languages and regional tags; none for a language it does not speak."""
    client = await hass_ws_client(hass)
    for tag, base in (("en", "en"), ("en-US", "en"), ("zh", "zh"), ("zh-CN", "zh"),
                      ("ja", "ja"), ("ko-KR", "ko"), ("es", None)):  # fmt: skip
        await client.send_json_auto_id(
            {"type": "tts/engine/voices", "engine_id": "tts.melo_text_to_speech", "language": tag}
        )
        response = await client.receive_json()
        assert response["success"], response
        expected = [{"voice_id": base, "name": MELOTTS_VOICES[base]}] if base else None
        assert response["result"]["voices"] == expected, tag
    assert hass.states.get("select.melo_voice") is None  # one voice per language: no choice


async def test_melotts_speaks_by_language(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """MeloTTS: REST only, the language (any tag of it) picks the voice; the audio is
    labelled by its bytes (Workers AI answers WAV although the schema says MP3)."""
    entity = _entity(hass, "tts.melo_text_to_speech")
    model = catalog.get_model(catalog.MELOTTS)
    assert not entity.async_supports_streaming_input()
    assert entity.supported_options == [tts.ATTR_VOICE]
    assert entity.default_language == "zh"
    assert entity.supported_languages == language_tags(base_languages(model))

    message = "The living room light is on."
    chinese = await get_tts_audio(hass, message, "tts.melo_text_to_speech", WAV, "zh-CN")
    english = await get_tts_audio(hass, message, "tts.melo_text_to_speech", WAV, "en-US")
    for extension, data in (chinese, english):
        assert extension == audio.sniff_container(data) == "wav"
    # The emulator gives each MeloTTS language its own speaking rate (zh faster than en).
    zh_scale = speaker_length_scale(catalog.MELOTTS, "zh")
    en_scale = speaker_length_scale(catalog.MELOTTS, "en")
    assert zh_scale < en_scale * 0.9
    durations = [audio.decode_audio(data).duration for _, data in (chinese, english)]
    assert durations[0] < durations[1] * 0.95


async def test_melotts_message_longer_than_one_request_is_spoken_whole(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """MeloTTS takes 600 characters per request: a longer message is split at sentence ends
    and the pieces come back as one WAV (MP3 files do not concatenate)."""
    sentence = "The living room light is on. "
    engine = "tts.melo_text_to_speech"
    _, one = await get_tts_audio(hass, sentence, engine, WAV, "en")
    extension, many = await get_tts_audio(hass, sentence * 21, engine, WAV, "en")
    assert len(sentence * 21) > 600
    assert extension == "wav"
    assert wav_duration(many) == pytest.approx(21 * audio.decode_audio(one).duration, rel=0.2)


async def test_text_stream_that_never_ends_stops_the_speech(
    hass: HomeAssistant, setup_entry: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline whose agent fails after streaming began never ends its text stream.

    Home Assistant 2026.10.4 (assist_pipeline/default_pipeline.py) only puts the end marker
    into the TTS text queue after the agent returns, and nothing cancels the TTS background
    task. The sentence already received is spoken; then, after ``TEXT_IDLE_TIMEOUT`` seconds
    without text, the audio ends and the text stream (and the aura WebSocket) are closed
    instead of waiting forever.
    """
    monkeypatch.setattr(tts_sentences, "TEXT_IDLE_TIMEOUT", 0.5)
    closed = asyncio.Event()

    async def stalled_agent() -> AsyncGenerator[str]:
        try:
            yield "The living room light is on. And"
            await asyncio.Event().wait()  # the agent raised; no end marker ever comes
        finally:
            closed.set()

    stream = tts.async_create_stream(hass, TTS_ENTITY_ID, options=WAV)
    stream.async_set_message_stream(stalled_agent())
    async with asyncio.timeout(60):  # only so that the failing version does not hang the run
        streamed = b"".join([chunk async for chunk in stream.async_stream_result()])
    _, first_sentence = await get_tts_audio(hass, "The living room light is on.", options=WAV)
    assert wav_duration(streamed) == pytest.approx(wav_duration(first_sentence), rel=0.5)
    assert closed.is_set()


async def test_spent_daily_allocation_is_a_clear_error_and_a_repair_issue(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    emulator: EmulatorProcess,
    issue_registry: ir.IssueRegistry,
) -> None:
    """429/3036 from MeloTTS: the error says the free allocation is used up until 00:00 UTC
    (no retries, no reauth), and the repair issue is raised."""
    message = "you have used up your daily free allocation of 10,000 neurons, please upgrade"
    await emulator.set_faults(fail_next=2, status=429, code=3036, message=message)
    with pytest.raises(HomeAssistantError, match="used up until 00:00 UTC"):
        await get_tts_audio(hass, "The light is on.", engine="tts.melo_text_to_speech")
    assert (await emulator.get_faults())["pending_failures"] == 1
    assert issue_registry.async_get_issue("workers_ai_speech", "quota_exceeded") is not None
    assert not hass.config_entries.flow.async_progress_by_handler("workers_ai_speech")


async def test_stream_waits_no_longer_than_its_budget(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    emulator: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Aura answering slower than the voice-path budget: an error, not a long wait (the
    budget is shrunk to 0.5 s and the model made 3 s slow)."""
    monkeypatch.setattr(tts_aura_link, "REQUEST_TIMEOUT", 0.5)
    await emulator.set_faults(model_latency_ms=3000)
    with pytest.raises(HomeAssistantError, match=r"no audio for 0\.5 s"):
        await get_tts_audio(hass, "Hello.", options=WAV)
