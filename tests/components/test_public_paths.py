"""The component through Home Assistant's public paths, with Workers AI traffic recorded.

``tts.speak`` (to a media player), ``POST /api/tts_get_url``, an Assist pipeline from speech to
speech, and speech-to-text through the pipeline and ``POST /api/stt/<entity>``: the paths Home
Assistant 2026.10 really takes. Requests go through :class:`tests.wire_recorder.WireRecorder`
to the emulator, so tests check what reached Workers AI (a language, a ``lang``) and how much
audio was consumed, not only what the emulator's English-only models made of it. TTS audio is
transcribed back with the emulator's Whisper, and voices are told apart by the emulator's
per-speaker speaking rate (:func:`wyoming_server.emulator.speaker_length_scale`).
"""

import asyncio
import json
import re
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from homeassistant.components import assist_pipeline, tts
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import CONF_LANGUAGE, CONF_MODEL
from homeassistant.core import Context, HomeAssistant
from homeassistant.setup import async_setup_component

from custom_components.workers_ai_speech.const import (
    CONF_API_BASE_URL,
    CONF_VOICE,
)
from tests.components.stt_helpers import speech_metadata
from tests.wire_recorder import WireRecorder
from wyoming_server.emulator import EmulatorProcess, speaker_length_scale
from wyoming_server.workers_ai import WorkersAIClient, audio, catalog

DATA = Path(__file__).resolve().parents[1] / "data"
STT_ENTITY_ID = "stt.workers_ai_stt_speech_to_text"
CHUNK = 3200  # 100 ms of 16 kHz 16-bit mono
BYTES_PER_SECOND = 32000
WAV = {tts.ATTR_PREFERRED_FORMAT: "wav"}  # no ffmpeg conversion (none is installed here)
MESSAGE = "Please close the garage door."

# One TTS subentry per model: (title → entity ID tts.<title>_text_to_speech, model, language,
# voice). aura-2-es speaks English text in the emulator (one English Piper voice for all).
TTS_SUBENTRIES = {
    "tts.aura_1_text_to_speech": ("Aura 1", catalog.AURA_1, "en", "asteria"),
    "tts.aura_2_en_text_to_speech": ("Aura 2 EN", catalog.AURA_2_EN, "en", "luna"),
    "tts.aura_2_es_text_to_speech": ("Aura 2 ES", catalog.AURA_2_ES, "es", "aquila"),
    "tts.melo_text_to_speech": ("Melo", catalog.MELOTTS, "en", None),
}
EOT_BUDGET_SECONDS = 8.0
"""Real-time silence a flux turn may take to end (0.7 s end-of-turn silence plus decoding on a
loaded machine); the turn budget (15 s) is far above it."""


def _normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z ]", " ", text.lower()).split())


def _recording(name: str) -> bytes:
    with wave.open(str(DATA / name), "rb") as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (16000, 2, 1)
        return wav.readframes(wav.getnframes())


@pytest.fixture
def entry_data(entry_data: dict[str, str], wire: WireRecorder) -> dict[str, str]:
    """The emulator's credentials, with Workers AI reached through the recorder."""
    return {**entry_data, CONF_API_BASE_URL: wire.base_url}


@pytest.fixture
def subentries_data(stt_model: str, stt_language: str) -> list[dict[str, Any]]:
    """One STT subentry and one TTS subentry per TTS model."""
    subentries: list[dict[str, Any]] = [
        {
            "subentry_type": "stt",
            "title": "Workers AI STT",
            "data": {CONF_MODEL: stt_model, CONF_LANGUAGE: stt_language},
            "unique_id": None,
        }
    ]
    for title, model, language, voice in TTS_SUBENTRIES.values():
        data = {CONF_MODEL: model, CONF_LANGUAGE: language}
        if voice:
            data[CONF_VOICE] = voice
        subentries.append({"subentry_type": "tts", "title": title, "data": data, "unique_id": None})
    return subentries


@pytest.fixture
async def whisper(emulator: EmulatorProcess) -> AsyncIterator[WorkersAIClient]:
    """A client straight to the emulator, to transcribe audio back (not through the recorder)."""
    async with aiohttp.ClientSession() as session:
        yield WorkersAIClient(
            session, emulator.account_id, emulator.api_token, api_base_url=emulator.base_url
        )


async def heard(whisper: WorkersAIClient, data: bytes) -> str:
    """What the emulator's Whisper hears in an audio file (WAV or MP3), normalized."""
    pcm = await asyncio.to_thread(audio.decode_audio, _fix_streamed_wav(data), sample_rate=16000)
    result = await whisper.transcribe_pcm(catalog.WHISPER, pcm.pcm, 16000)
    return _normalize(result.text)


def _fix_streamed_wav(data: bytes) -> bytes:
    """A streamed WAV's header says 0 frames; rebuild it with the real data size."""
    if data[:4] != b"RIFF":
        return data
    start = data.index(b"data", 36) + 8
    rate = int.from_bytes(data[24:28], "little")
    return audio.pcm_to_wav(data[start:], rate)


def duration(data: bytes) -> float:
    """Seconds of audio in a WAV or MP3 file."""
    return audio.decode_audio(_fix_streamed_wav(data)).duration


async def tts_get_url(
    hass_client: ClientSessionGenerator,
    engine: str,
    message: str,
    language: str | None = None,
    options: dict[str, Any] | None = None,
) -> bytes:
    """``POST /api/tts_get_url`` (what the frontend and media players use), then fetch it."""
    client = await hass_client()
    body: dict[str, Any] = {"engine_id": engine, "message": message, "cache": False}
    if language:
        body["language"] = language
    if options:
        body["options"] = options
    response = await client.post("/api/tts_get_url", json=body)
    assert response.status == 200, await response.text()
    path = (await response.json())["path"]
    audio_response = await client.get(path)
    assert audio_response.status == 200
    return await audio_response.read()


# ---------------------------------------------------------------------- text to speech


@pytest.mark.parametrize("engine", list(TTS_SUBENTRIES))
async def test_tts_speak_plays_every_model_and_says_the_words(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    whisper: WorkersAIClient,
    wire: WireRecorder,
    engine: str,
) -> None:
    """``tts.speak`` hands a media player a URL whose audio says the message."""
    _, model, _, voice = TTS_SUBENTRIES[engine]
    calls = async_mock_service(hass, "media_player", "play_media")
    options = WAV  # MeloTTS answers WAV too (§9 C3): no ffmpeg needed here
    await hass.services.async_call(
        tts.DOMAIN,
        "speak",
        {
            "entity_id": engine,
            "media_player_entity_id": "media_player.kitchen",
            "message": MESSAGE,
            "cache": False,
            "options": options,
        },
        blocking=True,
    )
    assert len(calls) == 1
    media_id = calls[0].data["media_content_id"]
    _, data = await tts.async_get_media_source_audio(hass, media_id)
    assert await heard(whisper, data) == _normalize(MESSAGE)
    requests = wire.runs(model)
    assert requests, f"nothing reached {model}"
    if voice:
        assert requests[0].param("speaker") or requests[0].json().get("speaker") == voice


@pytest.mark.parametrize("engine", list(TTS_SUBENTRIES))
async def test_tts_get_url_serves_every_model_saying_the_words(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    whisper: WorkersAIClient,
    engine: str,
) -> None:
    data = await tts_get_url(hass_client, engine, MESSAGE, options=WAV)
    assert await heard(whisper, data) == _normalize(MESSAGE)


async def test_tts_get_url_voice_option_is_the_aura_speaker_heard(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    wire: WireRecorder,
) -> None:
    """The ``voice`` option picks the speaker: the slowest and fastest aura-2-en voices differ
    in length as the emulator's speaking rates say, and each was asked for."""
    model = catalog.AURA_2_EN
    published = json.loads((DATA / "schemas" / "aura-2-en.json").read_text())["speaker"]["enum"]
    ranked = sorted(published, key=lambda s: speaker_length_scale(model, s))
    fast, slow = ranked[0], ranked[-1]
    engine = "tts.aura_2_en_text_to_speech"
    slow_audio = await tts_get_url(hass_client, engine, MESSAGE, options={**WAV, "voice": slow})
    fast_audio = await tts_get_url(hass_client, engine, MESSAGE, options={**WAV, "voice": fast})
    assert duration(slow_audio) > 1.15 * duration(fast_audio)
    assert [e.param("speaker") for e in wire.runs(model)] == [slow, fast]


async def test_melotts_speaks_the_requested_language(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    wire: WireRecorder,
    whisper: WorkersAIClient,
) -> None:
    """MeloTTS has no voices: the language is the voice. A Japanese request must go out as
    ``lang: ja`` (§9 C4: en, zh, ja, ko work) and sound like the emulator's ``ja`` voice, not
    its English one (each ``lang`` has its own speaking rate; synthesis is deterministic)."""
    engine = "tts.melo_text_to_speech"
    english_scale = speaker_length_scale(catalog.MELOTTS, "en")
    other = max(
        ("zh", "ja", "ko"),
        key=lambda lang: abs(speaker_length_scale(catalog.MELOTTS, lang) - english_scale),
    )
    english = await tts_get_url(hass_client, engine, MESSAGE, language="en", options=WAV)
    foreign = await tts_get_url(hass_client, engine, MESSAGE, language=other, options=WAV)
    assert [r.json()["lang"] for r in wire.runs(catalog.MELOTTS)] == ["en", other]
    expected = await whisper.synthesize(catalog.MELOTTS, MESSAGE, language=other)
    assert duration(foreign) == pytest.approx(duration(expected.audio), rel=0.02)
    assert duration(english) != pytest.approx(duration(expected.audio), rel=0.05)


async def test_melotts_offers_only_the_languages_workers_ai_speaks(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """Workers AI answers MeloTTS ``lang`` es and fr with 404/8002 (§9 C4); en, zh, ja, ko
    work. Quoted in tests/data/schemas/melotts.json."""
    published = json.loads((DATA / "schemas" / "melotts.json").read_text())["languages"]
    entity = hass.data[tts.DATA_COMPONENT].get_entity("tts.melo_text_to_speech")
    assert entity is not None
    # Regional tags (en-US, en-GB...) are accepted too; their base languages are the published.
    assert {tag.split("-")[0] for tag in entity.supported_languages} == set(published)


MELOTTS_ENGINE = "tts.melo_text_to_speech"


@pytest.mark.parametrize("language", ["en", "zh", "ja", "ko"])
async def test_melotts_with_its_listed_voice_speaks_each_language(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    wire: WireRecorder,
    language: str,
) -> None:
    """What a pipeline stores for MeloTTS (the voice the editor lists for its language) is
    accepted, and the request goes out in that language."""
    entity = hass.data[tts.DATA_COMPONENT].get_entity(MELOTTS_ENGINE)
    assert entity is not None
    [voice] = entity.async_get_supported_voices(language)
    data = await tts_get_url(
        hass_client, MELOTTS_ENGINE, MESSAGE, language, {**WAV, "voice": voice.voice_id}
    )
    assert duration(data) > 0.5
    assert [r.json()["lang"] for r in wire.runs(catalog.MELOTTS)] == [language]


@pytest.mark.parametrize("voice", ["luna", "follow_select", "zh"])
async def test_melotts_with_a_voice_it_lacks_speaks_the_language(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    wire: WireRecorder,
    whisper: WorkersAIClient,
    caplog: pytest.LogCaptureFixture,
    voice: str,
) -> None:
    """A voice stored while the service was an aura model (a speaker, or "Follow the voice
    select"), or another language's voice: no "Invalid options" error; the request's language
    speaks, and the log says so."""
    data = await tts_get_url(hass_client, MELOTTS_ENGINE, MESSAGE, "en", {**WAV, "voice": voice})
    assert await heard(whisper, data) == _normalize(MESSAGE)
    assert [r.json()["lang"] for r in wire.runs(catalog.MELOTTS)] == ["en"]
    assert f"has no voice {voice!r}" in caplog.text


AURA_2_TEXT_LIMIT = 1000
"""Characters Deepgram's aura-2 took per request (https://developers.deepgram.com/docs/
text-to-speech; the emulator accepts up to 2000, so only the wire shows the excess)."""


async def test_aura_long_announcement_is_spoken_whole_in_requests_within_the_limit(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    wire: WireRecorder,
) -> None:
    """An announcement longer than aura-2 takes at once (a news summary via ``tts.speak``) is
    sent as several ``Speak`` messages, none over the limit, and all of it is spoken."""
    sentence = "The living room light is on. "
    engine = "tts.aura_2_en_text_to_speech"
    one = await tts_get_url(hass_client, engine, sentence, options=WAV)
    many = await tts_get_url(hass_client, engine, sentence * 40, options=WAV)
    assert len(sentence * 40) > AURA_2_TEXT_LIMIT
    _, stream = wire.runs(catalog.AURA_2_EN)
    spoken = [m["text"] for m in stream.messages if isinstance(m, dict) and m["type"] == "Speak"]
    assert max(len(text) for text in spoken) <= AURA_2_TEXT_LIMIT
    assert " ".join(spoken) == (sentence * 40).strip()
    assert duration(many) == pytest.approx(40 * duration(one), rel=0.2)


# ---------------------------------------------------------------------- a pipeline, end to end


class AudioSource:
    """100 ms chunks of ``speech`` (fast), then of ``silence`` in real time, like an open
    microphone; counts the bytes read."""

    def __init__(self, speech: bytes, silence_seconds: float = 0.0) -> None:
        self.speech = speech
        self.silence = bytes(int(silence_seconds * BYTES_PER_SECOND))
        self.bytes_read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.speech), CHUNK):
            chunk = self.speech[start : start + CHUNK]
            self.bytes_read += len(chunk)
            yield chunk
            await asyncio.sleep(0.01)
        for start in range(0, len(self.silence), CHUNK):
            chunk = self.silence[start : start + CHUNK]
            self.bytes_read += len(chunk)
            yield chunk
            await asyncio.sleep(0.1)


async def run_pipeline(
    hass: HomeAssistant,
    source: AudioSource,
    end_stage: assist_pipeline.PipelineStage,
    tts_engine: str = "tts.aura_2_en_text_to_speech",
    language: str = "en",
    tts_voice: str | None = None,
) -> list[assist_pipeline.PipelineEvent]:
    """Run an Assist pipeline from audio (HA's VAD off) and return its events.

    The pipeline is created as Home Assistant creates its default one (it stores the first
    voice the TTS entity lists); ``tts_voice`` then replaces that voice, as the editor would.
    """
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "assist_pipeline", {})
    pipeline = await assist_pipeline.async_create_default_pipeline(
        hass, stt_engine_id=STT_ENTITY_ID, tts_engine_id=tts_engine, pipeline_name="Workers AI"
    )
    assert pipeline is not None
    if tts_voice is not None:
        await assist_pipeline.async_update_pipeline(hass, pipeline, tts_voice=tts_voice)
    events: list[assist_pipeline.PipelineEvent] = []
    await assist_pipeline.async_pipeline_from_audio_stream(
        hass,
        context=Context(),
        event_callback=events.append,
        stt_metadata=speech_metadata(language),
        stt_stream=aiter(source),
        pipeline_id=pipeline.id,
        end_stage=end_stage,
        tts_audio_output=WAV,  # the model's own rate: no ffmpeg conversion (none here)
        audio_settings=assist_pipeline.AudioSettings(is_vad_enabled=False),
    )
    return events


def _event(
    events: list[assist_pipeline.PipelineEvent], kind: assist_pipeline.PipelineEventType
) -> dict[str, Any]:
    found = [e for e in events if e.type is kind]
    assert found, [(e.type, e.data) for e in events]
    data: dict[str, Any] = found[0].data or {}
    return data


async def test_pipeline_from_speech_to_speech_answers_aloud(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    whisper: WorkersAIClient,
) -> None:
    """Speech → nova-3 → the conversation agent → aura-2-en: the spoken answer says what the
    agent answered."""
    source = AudioSource(_recording("living_room_light_en.wav"))
    events = await run_pipeline(hass, source, assist_pipeline.PipelineStage.TTS)
    heard_text = _event(events, assist_pipeline.PipelineEventType.STT_END)["stt_output"]["text"]
    assert _normalize(heard_text) == "turn on the living room light"
    intent = _event(events, assist_pipeline.PipelineEventType.INTENT_END)["intent_output"]
    answer = intent["response"]["speech"]["plain"]["speech"]
    assert answer
    tts_output = _event(events, assist_pipeline.PipelineEventType.TTS_END)["tts_output"]
    response = await (await hass_client()).get(tts_output["url"])  # what a satellite fetches
    assert response.status == 200
    assert await heard(whisper, await response.read()) == _normalize(answer)


@pytest.mark.parametrize("tts_voice", [None, "follow_select"])
async def test_pipeline_answers_aloud_with_melotts_and_its_stored_voice(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    whisper: WorkersAIClient,
    wire: WireRecorder,
    tts_voice: str | None,
) -> None:
    """A pipeline speaking with MeloTTS stores its listed voice ("en"), or still the aura
    "Follow the voice select" after the service was reconfigured: either way the pipeline
    answers aloud instead of failing with ``Invalid options found: ['voice']``."""
    source = AudioSource(_recording("living_room_light_en.wav"))
    events = await run_pipeline(
        hass, source, assist_pipeline.PipelineStage.TTS, MELOTTS_ENGINE, tts_voice=tts_voice
    )
    stored = assist_pipeline.async_get_pipelines(hass)[-1].tts_voice
    assert stored == (tts_voice or "en")
    intent = _event(events, assist_pipeline.PipelineEventType.INTENT_END)["intent_output"]
    answer = intent["response"]["speech"]["plain"]["speech"]
    tts_output = _event(events, assist_pipeline.PipelineEventType.TTS_END)["tts_output"]
    response = await (await hass_client()).get(tts_output["url"])
    assert response.status == 200
    assert await heard(whisper, await response.read()) == _normalize(answer)
    assert [r.json()["lang"] for r in wire.runs(catalog.MELOTTS)] == ["en"]


# ---------------------------------------------------------------------- speech to text


@pytest.mark.parametrize("stt_model", [catalog.FLUX])
async def test_flux_answers_at_end_of_turn_not_at_the_turn_budget(
    hass: HomeAssistant, setup_entry: MockConfigEntry, wire: WireRecorder
) -> None:
    """The microphone stays open after the command: the entity must stop reading at flux's
    ``EndOfTurn`` (about a second of silence), not after 15 s of audio."""
    speech = _recording("living_room_light_en.wav")
    source = AudioSource(speech, silence_seconds=20)
    events = await run_pipeline(hass, source, assist_pipeline.PipelineStage.STT)
    text = _event(events, assist_pipeline.PipelineEventType.STT_END)["stt_output"]["text"]
    assert _normalize(text) == "turn on the living room light"
    assert source.bytes_read < len(speech) + EOT_BUDGET_SECONDS * BYTES_PER_SECOND
    [stream] = wire.runs(catalog.FLUX)
    assert stream.audio_bytes < len(speech) + EOT_BUDGET_SECONDS * BYTES_PER_SECOND


@pytest.mark.parametrize(
    ("stt_model", "stt_language", "recording"),
    [
        (catalog.NOVA_3, "de", "living_room_light_de.wav"),
        (catalog.NOVA_3, "es", "living_room_light_es.wav"),
    ],
)
async def test_pinned_language_reaches_nova3(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    wire: WireRecorder,
    stt_language: str,
    recording: str,
) -> None:
    """A German (Spanish) speech-to-text subentry: ``POST /api/stt`` streams to nova-3 with
    ``language=de`` (``es``), not ``multi``."""
    client = await hass_client()
    response = await client.post(
        f"/api/stt/{STT_ENTITY_ID}",
        data=_recording(recording),
        headers={
            "X-Speech-Content": "format=wav; codec=pcm; sample_rate=16000; bit_rate=16; "
            f"channel=1; language={stt_language}"
        },
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["result"] == "success"
    [stream] = wire.runs(catalog.NOVA_3)
    assert stream.websocket
    assert stream.param("language") == stt_language
    assert stream.controls[-2:] == ["Finalize", "CloseStream"]


@pytest.mark.parametrize(("stt_model", "stt_language"), [(catalog.WHISPER_LARGE_V3_TURBO, "fr")])
async def test_pinned_language_reaches_whisper_turbo(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    wire: WireRecorder,
) -> None:
    """A French subentry on whisper-large-v3-turbo sends ``"language": "fr"`` (the recording is
    44.1 kHz; the Assist pipeline would resample, the HTTP API takes it as declared)."""
    with wave.open(str(DATA / "whats_your_name_french.wav"), "rb") as wav:
        rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
        pcm = wav.readframes(wav.getnframes())
    resampled = audio.convert_pcm(pcm, rate, width, channels, 16000)
    client = await hass_client()
    response = await client.post(
        f"/api/stt/{STT_ENTITY_ID}",
        data=resampled,
        headers={
            "X-Speech-Content": "format=wav; codec=pcm; sample_rate=16000; bit_rate=16; "
            "channel=1; language=fr"
        },
    )
    assert response.status == 200, await response.text()
    [request] = wire.runs(catalog.WHISPER_LARGE_V3_TURBO)
    assert request.json()["language"] == "fr"


async def test_tts_get_url_melotts_failure_is_an_error_not_audio(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    emulator: EmulatorProcess,
) -> None:
    """Workers AI refuses the MeloTTS request: the media URL answers an error, not audio."""
    await emulator.set_faults(fail_next=1, status=400, code=5006, message="Invalid input")
    client = await hass_client()
    response = await client.post(
        "/api/tts_get_url",
        json={"engine_id": "tts.melo_text_to_speech", "message": MESSAGE, "cache": False},
    )
    assert response.status == 200, await response.text()
    audio_response = await client.get((await response.json())["path"])
    assert audio_response.status >= 400
    assert (await emulator.get_faults())["pending_failures"] == 0


FORBIDDEN = b'{"result": null, "success": false, "errors": [{"message": "Forbidden"}]}'


@pytest.mark.parametrize("stt_model", [catalog.NOVA_3, catalog.WHISPER])
async def test_403_without_error_code_starts_reauth_from_speech_to_text(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    wire: WireRecorder,
) -> None:
    """A revoked token may get a bare 403 (no Cloudflare error code): an authentication error,
    so Home Assistant asks for a new token (a reauth flow), for the WebSocket and REST alike."""
    wire.answer_next(403, FORBIDDEN)
    client = await hass_client()
    response = await client.post(
        f"/api/stt/{STT_ENTITY_ID}",
        data=_recording("living_room_light_en.wav"),
        headers={
            "X-Speech-Content": "format=wav; codec=pcm; sample_rate=16000; bit_rate=16; "
            "channel=1; language=en"
        },
    )
    await hass.async_block_till_done()
    assert (await response.json())["result"] == "error"
    flows = hass.config_entries.flow.async_progress_by_handler("workers_ai_speech")
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]


async def test_403_without_error_code_starts_reauth_from_text_to_speech(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    wire: WireRecorder,
) -> None:
    wire.answer_next(403, FORBIDDEN)
    client = await hass_client()
    response = await client.post(
        "/api/tts_get_url",
        json={"engine_id": "tts.melo_text_to_speech", "message": MESSAGE, "cache": False},
    )
    audio_response = await client.get((await response.json())["path"])
    await hass.async_block_till_done()
    assert audio_response.status >= 400
    flows = hass.config_entries.flow.async_progress_by_handler("workers_ai_speech")
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
