"""What the Wyoming server puts on the Workers AI wire, and how much audio it consumes.

Real Wyoming client → server subprocess → :class:`tests.wire_recorder.WireRecorder` → emulator.
The recorder shows what reached Workers AI (the emulator's Whisper is English-only, so the
German, Spanish and French recordings are checked by the language that went out, not by what
tiny.en hears). Expected values come from ``tests/data/schemas/`` (published schemas), not from
the catalog. Voices are told apart by the emulator's per-speaker speaking rate
(:func:`wyoming_server.emulator.speaker_length_scale`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.wire_recorder import WireRecorder
from tests.wyoming_server.server_harness import (
    EVENT_TIMEOUT,
    ServerProcess,
    audio_events,
    emulator_env,
    normalize,
    pcm_of,
    read_until,
    read_wav,
    types,
)
from wyoming_server.emulator import EmulatorProcess, speaker_length_scale

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"
RATE = 16000
CHUNK = RATE // 10  # samples: 100 ms per audio-chunk
BYTES_PER_SECOND = RATE * 2
FLUX_FLAGS = ["--flux-eot-threshold", "0.8", "--flux-eager-eot-threshold", "0.5"]
FLUX_FLAGS += ["--flux-eot-timeout-ms", "3000", "--keyterm", "Lamp"]
CAP_SECONDS = 15  # the server's default --max-utterance-seconds
EOT_BUDGET_SECONDS = 8.0
"""Real-time silence a flux turn may take to end: 0.8 s of end-of-turn silence plus decoding
latency on a loaded machine; well below the 12.5 s of silence after which the 15 s cap would
end the utterance without ``EndOfTurn``."""


def schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / name).read_text())
    return data


@pytest.fixture(scope="session")
def wire(_emulator_process_session: EmulatorProcess) -> Iterator[WireRecorder]:
    recorder = WireRecorder(_emulator_process_session.base_url).start()
    yield recorder
    recorder.stop()


def _args(recorder: WireRecorder, *extra: str) -> list[str]:
    return ["--api-base-url", recorder.base_url, *extra]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _nova3_server(
    wire: WireRecorder, _emulator_process_session: EmulatorProcess
) -> AsyncIterator[ServerProcess]:
    env = emulator_env(_emulator_process_session)
    async with ServerProcess(_args(wire, *FLUX_FLAGS), env) as server:
        yield server


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _tiny_server(
    wire: WireRecorder, _emulator_process_session: EmulatorProcess
) -> AsyncIterator[ServerProcess]:
    env = emulator_env(_emulator_process_session)
    async with ServerProcess(_args(wire, "--stt-model", "whisper-tiny-en"), env) as server:
        yield server


@pytest.fixture
def server(_nova3_server: ServerProcess, wire: WireRecorder) -> ServerProcess:
    """Default model nova-3, the flux flags and ``--keyterm Lamp``; the recorder cleared."""
    wire.clear()
    return _nova3_server


@pytest.fixture
def tiny_server(_tiny_server: ServerProcess, wire: WireRecorder) -> ServerProcess:
    """Default model whisper-tiny-en (English only); the recorder cleared."""
    wire.clear()
    return _tiny_server


def speech(path: Path) -> bytes:
    """A 16 kHz 16-bit mono recording's PCM."""
    pcm, rate, width, channels = read_wav(path)
    assert (rate, width, channels) == (RATE, 2, 1)
    return pcm


async def transcribe(
    server: ServerProcess, recording: Path, name: str | None, language: str | None
) -> list[Event]:
    """Send a whole recording and ``audio-stop``; the events up to ``transcript-stop``/error."""
    pcm, rate, width, channels = read_wav(recording)
    async with server.client() as client:
        await client.write_event(Transcribe(name=name, language=language).event())
        for event in audio_events(pcm, rate, width, channels):
            await client.write_event(event)
        return await read_until(client, ["transcript-stop", "error"])


async def speak_then_silence(client: AsyncTcpClient, pcm: bytes) -> tuple[list[Event], int]:
    """Speech, then 100 ms silence chunks in real time (a live microphone) until a
    ``transcript`` arrives.

    Returns the events and the seconds of silence sent before the transcript came.
    """
    await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
    reader = asyncio.create_task(read_until(client, ["transcript", "error"], EVENT_TIMEOUT))
    for start in range(0, len(pcm), CHUNK * 2):
        chunk = AudioChunk(rate=RATE, width=2, channels=1, audio=pcm[start : start + CHUNK * 2])
        await client.write_event(chunk.event())
        await asyncio.sleep(0.02)
    silence = AudioChunk(rate=RATE, width=2, channels=1, audio=bytes(CHUNK * 2)).event()
    sent = 0
    while not reader.done() and sent < 3 * CAP_SECONDS * 10:
        await client.write_event(silence)
        sent += 1
        await asyncio.sleep(0.1)
    return await reader, sent // 10


# ---------------------------------------------------------------------- speech to text


async def test_flux_answers_at_end_of_turn_long_before_the_utterance_cap(
    server: ServerProcess, wire: WireRecorder, speech_dir: Path
) -> None:
    """The microphone stays open: the transcript must come at flux's ``EndOfTurn``, after about
    a second of silence, and the server must stop forwarding audio then, not at the 15 s cap."""
    pcm = speech(speech_dir / "living_room_light_en.wav")
    async with server.client() as client:
        await client.write_event(Transcribe(name="@cf/deepgram/flux", language="en").event())
        events, silence_seconds = await speak_then_silence(client, pcm)
        await client.write_event(AudioStop().event())
        await read_until(client, ["transcript-stop"])
    assert "error" not in types(events)
    [transcript] = [e for e in events if e.type == "transcript"]
    assert normalize(transcript.data["text"]) == "turn on the living room light"
    assert silence_seconds < EOT_BUDGET_SECONDS
    [stream] = wire.runs("@cf/deepgram/flux")
    assert stream.audio_bytes < len(pcm) + EOT_BUDGET_SECONDS * BYTES_PER_SECOND


async def test_flux_flags_and_keyterms_reach_the_flux_handshake(
    server: ServerProcess, wire: WireRecorder, speech_dir: Path
) -> None:
    """``--flux-eot-threshold``, ``--flux-eager-eot-threshold``, ``--flux-eot-timeout-ms`` and
    ``--keyterm`` are query parameters of the flux WebSocket (Deepgram listen v2)."""
    events = await transcribe(
        server, speech_dir / "living_room_light_en.wav", "@cf/deepgram/flux", "en"
    )
    assert "error" not in types(events)
    [stream] = wire.runs("@cf/deepgram/flux")
    assert stream.param("eot_threshold") == "0.8"
    assert stream.param("eager_eot_threshold") == "0.5"
    assert stream.param("eot_timeout_ms") == "3000"
    assert stream.params("keyterm") == ["Lamp"]
    assert stream.param("encoding") == "linear16"
    assert stream.param("sample_rate") == str(RATE)


@pytest.mark.parametrize(
    ("recording", "tag", "expected"),
    [
        ("living_room_light_de.wav", "de-DE", "de"),
        ("living_room_light_es.wav", "es", "es"),
        ("whats_your_name_french.wav", "fr-FR", "fr"),
    ],
)
async def test_nova3_streams_with_the_requested_language_and_finalizes_at_audio_stop(
    server: ServerProcess,
    wire: WireRecorder,
    speech_dir: Path,
    recording: str,
    tag: str,
    expected: str,
) -> None:
    """A German, Spanish or French household gets nova-3 pinned to its language (with the
    key terms), not ``multi``; ``audio-stop`` sends ``Finalize`` and then ``CloseStream``."""
    assert expected in schema("nova-3.json")["languages"]
    pcm, rate, _, _ = read_wav(speech_dir / recording)
    events = await transcribe(server, speech_dir / recording, None, tag)
    assert types(events)[-2:] == ["transcript", "transcript-stop"]
    [stream] = wire.runs("@cf/deepgram/nova-3")
    assert stream.websocket
    assert stream.param("language") == expected
    assert stream.params("keyterm") == ["Lamp"]
    assert stream.controls[-2:] == ["Finalize", "CloseStream"]
    assert stream.audio_bytes == pytest.approx(len(pcm) * RATE / rate, abs=CHUNK * 2)


@pytest.mark.parametrize(
    ("recording", "tag", "expected"),
    [
        ("living_room_light_de.wav", "de-DE", "de"),
        ("whats_your_name_french.wav", "fr", "fr"),
    ],
)
async def test_language_the_default_model_lacks_goes_to_whisper_turbo_with_that_language(
    tiny_server: ServerProcess,
    wire: WireRecorder,
    speech_dir: Path,
    recording: str,
    tag: str,
    expected: str,
) -> None:
    """Default model whisper-tiny-en (English only), HA names no model: the German or French
    utterance goes to whisper-large-v3-turbo with ``"language": "<ISO 639-1>"`` in its body."""
    events = await transcribe(tiny_server, speech_dir / recording, None, tag)
    assert types(events)[-2:] == ["transcript", "transcript-stop"]
    assert wire.runs("@cf/openai/whisper-tiny-en") == []
    [request] = wire.runs("@cf/openai/whisper-large-v3-turbo")
    assert request.json()["language"] == expected


@pytest.mark.parametrize(
    ("name", "recording", "tag"),
    [
        ("@cf/deepgram/flux", "living_room_light_de.wav", "de"),
        ("@cf/openai/whisper-tiny-en", "living_room_light_es.wav", "es"),
    ],
)
async def test_named_model_without_the_language_is_refused_before_any_request(
    server: ServerProcess, wire: WireRecorder, speech_dir: Path, name: str, recording: str, tag: str
) -> None:
    """flux is English-only (§9 C9) and so is whisper-tiny-en: a named model that cannot do
    the language is an ``unsupported-language`` error, and nothing is sent to Workers AI."""
    if name.endswith("flux"):
        assert schema("flux.json")["languages"] == ["en"]
    events = await transcribe(server, speech_dir / recording, name, tag)
    [error] = [e for e in events if e.type == "error"]
    assert error.data["code"] == "unsupported-language"
    assert wire.runs() == []


# ---------------------------------------------------------------------- text to speech


async def test_only_the_melotts_languages_workers_ai_speaks_are_advertised(
    server: ServerProcess,
) -> None:
    """MeloTTS on Workers AI answers ``lang`` es and fr with 404/8002 (§9 C4): HA must not be
    offered a voice that always fails."""
    async with server.client() as client:
        await client.write_event(Describe().event())
        [info] = await read_until(client, ["info"])
    melo = {
        lang
        for voice in Info.from_event(info).tts[0].voices
        if voice.name.startswith("melotts")
        for lang in voice.languages
    }
    assert melo == set(schema("melotts.json")["languages"])


TEXT = "The weather is sunny today and the garden lights are on."


async def _speak(server: ServerProcess, voice: SynthesizeVoice) -> float:
    """Seconds of audio the server answers ``TEXT`` with."""
    async with server.client() as client:
        await client.write_event(Synthesize(text=TEXT, voice=voice).event())
        events = await read_until(client, ["audio-stop", "error"])
    assert "error" not in types(events)
    pcm, rate = pcm_of(events)
    return len(pcm) / (2 * rate)


def _slowest_and_fastest(model: str) -> tuple[str, str]:
    """The published speakers of ``model`` with the slowest and fastest emulator voice."""
    enum = schema(model.rsplit("/", 1)[1] + ".json")["speaker"]["enum"]
    ranked = sorted(enum, key=lambda s: speaker_length_scale(model, s))
    return ranked[-1], ranked[0]


@pytest.mark.parametrize("model", ["@cf/deepgram/aura-2-en", "@cf/deepgram/aura-1"])
async def test_the_requested_aura_speaker_is_the_one_heard(
    server: ServerProcess, wire: WireRecorder, model: str
) -> None:
    """The slowest and the fastest speaker of a model say the same text: the slow one takes
    clearly longer (the emulator speaks each speaker at its own rate), and each handshake
    asked for its speaker."""
    slow, fast = _slowest_and_fastest(model)
    assert speaker_length_scale(model, slow) / speaker_length_scale(model, fast) > 1.3
    prefix = model.rsplit("/", 1)[1]
    slow_seconds = await _speak(server, SynthesizeVoice(name=f"{prefix}-{slow}"))
    fast_seconds = await _speak(server, SynthesizeVoice(name=f"{prefix}-{fast}"))
    assert slow_seconds > 1.15 * fast_seconds
    assert [e.param("speaker") for e in wire.runs(model)] == [slow, fast]


async def test_speaker_field_overrides_the_voice_speaker(
    server: ServerProcess, wire: WireRecorder
) -> None:
    """HA sends ``voice.name`` plus ``voice.speaker``: the speaker wins."""
    model = "@cf/deepgram/aura-2-en"
    slow, fast = _slowest_and_fastest(model)
    named = await _speak(server, SynthesizeVoice(name=f"aura-2-en-{slow}"))
    overridden = await _speak(server, SynthesizeVoice(name=f"aura-2-en-{slow}", speaker=fast))
    assert named > 1.15 * overridden
    assert [e.param("speaker") for e in wire.runs(model)] == [slow, fast]


AURA_2_MAX_CHARS = 1000
"""Characters per aura-2 request: Deepgram's limit for aura-2 text
(https://developers.deepgram.com/docs/text-to-speech: 2000 characters, once 1000 for aura-2);
Workers AI documents none, so the catalog keeps to 1000 for aura-2."""


LONG_REPLIES = {
    "sentences": " ".join(
        f"The {n} light in the living room is now switched on for you." for n in range(1, 23)
    ),
    "one sentence": "Your list holds "
    + ", ".join(f"the item number {n} for the living room" for n in range(1, 34))
    + ".",
}


@pytest.mark.parametrize("text", LONG_REPLIES.values(), ids=LONG_REPLIES.keys())
async def test_a_long_reply_never_sends_aura_more_text_than_one_request_takes(
    server: ServerProcess, wire: WireRecorder, text: str
) -> None:
    """A reply of ~1,300 characters arriving at once (many sentences: the first is flushed
    alone and the rest grouped; or one long sentence): no ``Speak`` carries more than aura-2's
    limit, and every word is sent, in order, and spoken."""
    model = "@cf/deepgram/aura-2-en"
    assert len(text) > AURA_2_MAX_CHARS + 200
    async with server.client() as client:
        # Not the server's default voice (luna): an earlier test's transcript leaves a spare
        # luna WebSocket open on this session server, opened before ``wire.clear()``, and a
        # reply taking it would send its ``Speak``s unrecorded.
        voice = SynthesizeVoice(name="aura-2-en-pandora")
        await client.write_event(Synthesize(text=text, voice=voice).event())
        events = await read_until(client, ["audio-stop", "error"], 4 * EVENT_TIMEOUT)
    assert "error" not in types(events)
    spoken = [
        m["text"]
        for exchange in wire.runs(model)  # the reply's WebSocket (and a spare opened after it)
        for m in exchange.messages
        if isinstance(m, dict) and m.get("type") == "Speak"
    ]
    assert max(len(t) for t in spoken) <= AURA_2_MAX_CHARS
    assert " ".join(spoken).split() == text.split()
    pcm, rate = pcm_of(events)
    assert len(pcm) / (2 * rate) > 20  # ~22 sentences of speech, none dropped
