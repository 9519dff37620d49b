"""The emulator's REST models: request conventions, response shapes (the documented output
schemas) and real results (real speech in, TTS audio transcribed back)."""

from __future__ import annotations

import base64
import io
import re
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator

from wyoming_server.emulator import Emulator, schemas, speaker_length_scale

SPEECH = Path(__file__).resolve().parents[1] / "data"
LAMP_WAV = "turn_on_the_living_room_lamp.wav"  # 44.1 kHz stereo
LIGHT_WAV = "living_room_light_en.wav"  # 16 kHz mono
LAMP = ["turn", "on", "the", "living", "room", "lamp"]
LIGHT = ["turn", "on", "the", "living", "room", "light"]
PHRASE = "Turn on the kitchen light."
PHRASE_WORDS = ["turn", "on", "the", "kitchen", "light"]


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def speech(name: str) -> bytes:
    return (SPEECH / name).read_bytes()


def result_of(body: dict[str, Any]) -> Any:
    """The ``result`` of an exact v4 success envelope."""
    assert set(body) == {"result", "success", "errors", "messages"}
    assert body["success"] is True
    assert body["errors"] == []
    assert body["messages"] == []
    return body["result"]


def assert_output_schema(model_id: str, result: Any) -> None:
    Draft202012Validator(schemas.OUTPUT_SCHEMAS[model_id]).validate(result)


def wav_duration(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as wav:
        return float(wav.getnframes() / wav.getframerate())


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {emulator.api_token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield session


async def transcribe(http: aiohttp.ClientSession, emulator: Emulator, audio: bytes) -> str:
    """Transcribe any audio file with the emulator's whisper-tiny-en."""
    async with http.post(emulator.run_url("@cf/openai/whisper-tiny-en"), data=audio) as resp:
        assert resp.status == 200, await resp.text()
        text: str = result_of(await resp.json())["text"]
        return text


@pytest.mark.parametrize("model", ["@cf/openai/whisper", "@cf/openai/whisper-tiny-en"])
@pytest.mark.parametrize(("name", "expected"), [(LAMP_WAV, LAMP), (LIGHT_WAV, LIGHT)])
async def test_whisper_models_transcribe_raw_audio(
    http: aiohttp.ClientSession, emulator: Emulator, model: str, name: str, expected: list[str]
) -> None:
    async with http.post(emulator.run_url(model), data=speech(name)) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        result = result_of(await resp.json())
    assert_output_schema(model, result)
    assert set(result) == {"text", "word_count", "words", "vtt"}
    assert words(result["text"]) == expected
    assert result["word_count"] == len(expected)
    assert [words(w["word"])[0] for w in result["words"]] == expected
    starts = [w["start"] for w in result["words"]]
    assert starts == sorted(starts)
    assert all(w["start"] <= w["end"] for w in result["words"])
    assert result["vtt"].startswith("WEBVTT\n\n00:00:00.000 --> ")
    assert result["text"] in result["vtt"]


async def test_whisper_accepts_uint8_array_json(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    body = {"audio": list(speech(LIGHT_WAV))}
    async with http.post(emulator.run_url("@cf/openai/whisper"), json=body) as resp:
        assert resp.status == 200
        result = result_of(await resp.json())
    assert words(result["text"]) == LIGHT


async def test_whisper_large_v3_turbo_base64_json(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    body = {
        "audio": base64.b64encode(speech(LAMP_WAV)).decode(),
        "language": "en",
        "task": "transcribe",
        "vad_filter": True,
        "initial_prompt": "Home automation commands.",
        "beam_size": 2,
        "condition_on_previous_text": False,
        "no_speech_threshold": 0.6,
        "compression_ratio_threshold": 2.4,
        "log_prob_threshold": -1,
        "hallucination_silence_threshold": 2,
    }
    url = emulator.run_url("@cf/openai/whisper-large-v3-turbo")
    async with http.post(url, json=body) as resp:
        assert resp.status == 200
        result = result_of(await resp.json())
    assert_output_schema("@cf/openai/whisper-large-v3-turbo", result)
    assert set(result) == {"transcription_info", "text", "word_count", "segments", "vtt"}
    assert words(result["text"]) == LAMP
    info = result["transcription_info"]
    assert info["language"] == "en"
    assert info["duration"] == pytest.approx(2.99, abs=0.02)
    assert 0 < info["duration_after_vad"] <= info["duration"]
    segment_words = [w for s in result["segments"] for w in s["words"]]
    assert [words(w["word"])[0] for w in segment_words] == LAMP
    assert set(result["segments"][0]) == {
        "start", "end", "text", "temperature", "avg_logprob", "compression_ratio",
        "no_speech_prob", "words",
    }  # fmt: skip


async def test_nova_3_raw_body_with_query_options(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    url = emulator.run_url("@cf/deepgram/nova-3")
    params = [("punctuate", "true"), ("smart_format", "true"), ("language", "en"),
              ("keyterm", "lamp"), ("keyterm", "living room")]  # fmt: skip
    headers = {"Content-Type": "audio/wav"}
    async with http.post(url, params=params, data=speech(LAMP_WAV), headers=headers) as resp:
        assert resp.status == 200
        result = result_of(await resp.json())
    assert_output_schema("@cf/deepgram/nova-3", result)
    alternative = result["results"]["channels"][0]["alternatives"][0]
    assert alternative["transcript"] == "Turn on the living room lamp."
    assert 0 < alternative["confidence"] <= 1
    assert [w["word"] for w in alternative["words"]] == LAMP
    assert alternative["words"][0]["punctuated_word"] == "Turn"
    assert alternative["words"][-1]["punctuated_word"] == "lamp."
    assert all(set(w) == {"word", "start", "end", "confidence", "punctuated_word"}
               for w in alternative["words"])  # fmt: skip


async def test_nova_3_without_punctuation_and_raw_linear16(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    with wave.open(io.BytesIO(speech(LIGHT_WAV))) as wav:
        pcm = wav.readframes(wav.getnframes())
        rate = wav.getframerate()
    url = emulator.run_url("@cf/deepgram/nova-3")
    params = {"encoding": "linear16", "sample_rate": str(rate)}
    headers = {"Content-Type": "application/octet-stream"}
    async with http.post(url, params=params, data=pcm, headers=headers) as resp:
        assert resp.status == 200
        result = result_of(await resp.json())
    alternative = result["results"]["channels"][0]["alternatives"][0]
    # Deepgram without punctuate/smart_format: lower case, no punctuation, no punctuated_word.
    assert alternative["transcript"] == " ".join(LIGHT)
    assert all("punctuated_word" not in w for w in alternative["words"])


@pytest.mark.parametrize(
    ("model", "speaker"),
    [("@cf/deepgram/aura-1", "asteria"), ("@cf/deepgram/aura-2-en", "thalia"),
     ("@cf/deepgram/aura-2-es", None)],
)  # fmt: skip
async def test_aura_answers_mp3_that_says_the_text(
    http: aiohttp.ClientSession, emulator: Emulator, model: str, speaker: str | None
) -> None:
    body: dict[str, Any] = {"text": PHRASE}
    if speaker:
        body["speaker"] = speaker
    async with http.post(emulator.run_url(model), json=body) as resp:
        assert resp.status == 200
        assert resp.content_type == "audio/mpeg"
        mp3 = await resp.read()
    assert mp3[:3] == b"ID3" or mp3[0] == 0xFF
    assert words(await transcribe(http, emulator, mp3)) == PHRASE_WORDS


@pytest.mark.parametrize("lang", ["en", "zh", "ja", "ko"])
async def test_melotts_answers_base64_wav_in_the_envelope(
    http: aiohttp.ClientSession, emulator: Emulator, lang: str
) -> None:
    """§9 C3: result.audio is base64 WAV (RIFF, 44.1 kHz, mono, 16-bit), not MP3."""
    url = emulator.run_url("@cf/myshell-ai/melotts")
    async with http.post(url, json={"prompt": PHRASE, "lang": lang}) as resp:
        assert resp.status == 200
        assert float(resp.headers["cf-ai-neurons"]) > 0  # §9 C12
        result = result_of(await resp.json())
    assert_output_schema("@cf/myshell-ai/melotts", result)
    assert set(result) == {"audio"}
    data = base64.b64decode(result["audio"], validate=True)
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (44100, 1, 2)
    if lang == "en":
        assert words(await transcribe(http, emulator, data)) == PHRASE_WORDS


async def test_aura_rest_may_ignore_the_encoding(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """§9 C10 as a fault: MP3 although linear16 was asked for."""
    emulator.faults.aura_rest_ignores_encoding = True
    body = {"text": "Hello.", "encoding": "linear16", "container": "none", "sample_rate": 24000}
    async with http.post(emulator.run_url("@cf/deepgram/aura-1"), json=body) as resp:
        assert resp.status == 200
        assert resp.content_type == "audio/mpeg"
        data = await resp.read()
    assert data[:3] == b"ID3" or data[0] == 0xFF


async def test_aura_output_encodings(http: aiohttp.ClientSession, emulator: Emulator) -> None:
    url = emulator.run_url("@cf/deepgram/aura-2-en")

    async def synth(**options: Any) -> tuple[str, bytes]:
        async with http.post(url, json={"text": "Hello.", "speaker": "luna", **options}) as resp:
            assert resp.status == 200, await resp.text()
            return resp.content_type, await resp.read()

    ctype, wav16 = await synth(encoding="linear16", container="wav", sample_rate=16000)
    assert ctype == "audio/wav"
    with wave.open(io.BytesIO(wav16)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        seconds = wav.getnframes() / 16000
    _, raw = await synth(encoding="linear16", container="none", sample_rate=24000)
    assert len(raw) / 2 / 24000 == pytest.approx(seconds, abs=0.02)
    _, mulaw = await synth(encoding="mulaw", sample_rate=8000)  # container defaults to wav
    assert mulaw[:4] == b"RIFF"
    fmt_at = mulaw.index(b"fmt ")
    audio_format, channels, rate = struct.unpack("<HHI", mulaw[fmt_at + 8 : fmt_at + 16])
    assert (audio_format, channels, rate) == (7, 1, 8000)  # 7 = G.711 mu-law
    _, flac = await synth(encoding="flac")
    assert flac[:4] == b"fLaC"
    _, opus = await synth(encoding="opus")
    assert opus[:4] == b"OggS"


async def test_speakers_speak_at_their_own_predicted_rate(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    model = "@cf/deepgram/aura-2-en"
    by_scale = sorted(schemas.speakers(model), key=lambda s: speaker_length_scale(model, s))
    chosen = [by_scale[0], by_scale[len(by_scale) // 2], by_scale[-1]]
    scales = [speaker_length_scale(model, s) for s in chosen]
    assert scales[0] < scales[1] < scales[2]

    async def duration(speaker: str | None) -> float:
        body: dict[str, Any] = {"text": PHRASE, "encoding": "linear16", "container": "wav"}
        if speaker is not None:
            body["speaker"] = speaker
        async with http.post(emulator.run_url(model), json=body) as resp:
            assert resp.status == 200
            return wav_duration(await resp.read())

    durations = [await duration(s) for s in chosen]
    assert durations[0] < durations[1] < durations[2]
    # Duration is linear in the speaker's length scale: the middle one falls where predicted.
    predicted = (scales[1] - scales[0]) / (scales[2] - scales[0])
    measured = (durations[1] - durations[0]) / (durations[2] - durations[0])
    assert measured == pytest.approx(predicted, abs=0.15)
    # Deterministic, and the schema default speaker (luna) is used when none is given.
    assert await duration(chosen[0]) == durations[0]
    assert await duration(None) == await duration("luna")


def test_speaker_length_scale_is_deterministic_and_validated() -> None:
    assert speaker_length_scale("@cf/deepgram/aura-1") == speaker_length_scale(
        "@cf/deepgram/aura-1", "angus"
    )
    all_scales = {
        speaker_length_scale(m, s)
        for m in ("@cf/deepgram/aura-1", "@cf/deepgram/aura-2-en", "@cf/deepgram/aura-2-es")
        for s in schemas.speakers(m)
    }
    assert all(0.8 <= s <= 1.3 for s in all_scales)
    assert len(all_scales) > 25  # speakers are spread over the range
    with pytest.raises(ValueError, match="not a speaker"):
        speaker_length_scale("@cf/deepgram/aura-2-en", "angus")
    with pytest.raises(ValueError, match="not a TTS model"):
        speaker_length_scale("@cf/openai/whisper", "luna")
