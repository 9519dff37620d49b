"""CPU-heavy audio work never runs on the event loop (issue 7 item 3).

FLAC encoding of an upload, decoding of a TTS container (melotts' WAV, aura's MP3 when Workers
AI ignores ``encoding``) and resampling of a large chunk take milliseconds to seconds of CPU;
on the event loop they would stall every other connection and WebSocket meanwhile. The
functions that do it are wrapped (:mod:`tests.wyoming_server.loop_guard`) to record whether an
event loop was running in the calling thread, and real requests are driven end to end: the
client against the emulator, and a Wyoming client against the server subprocess.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from wyoming.asr import Transcribe
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.wyoming_server.client_helpers import emulator_client
from tests.wyoming_server.loop_guard import Call, install, read_calls, sitecustomize_dir
from tests.wyoming_server.server_harness import (
    ServerProcess,
    audio_events,
    emulator_args,
    emulator_env,
    normalize,
    read_until,
    read_wav,
)
from wyoming_server.emulator import Emulator, EmulatorProcess
from wyoming_server.workers_ai import WorkersAIClient, audio

SPEECH = Path(__file__).resolve().parents[1] / "data"
WHISPER_TINY_EN = "@cf/openai/whisper-tiny-en"  # REST: the server uploads FLAC


def on_the_loop(calls: list[Call]) -> list[Call]:
    """The calls that did real work on an event loop's thread: any encode or decode, and the
    resampling of a chunk larger than :data:`audio.THREAD_BYTES` (a few ms of audio may be
    resampled in place)."""
    heavy = ("encode_flac", "decode_audio")
    return [
        call
        for call in calls
        if call.on_event_loop and (call.function in heavy or call.input_bytes > audio.THREAD_BYTES)
    ]


@pytest.fixture
def calls() -> Iterator[list[Call]]:
    recorded: list[Call] = []
    undo = install(recorded.append)
    yield recorded
    undo()


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[WorkersAIClient]:
    async with aiohttp.ClientSession() as session:
        yield emulator_client(session, emulator)


async def test_client_encodes_and_decodes_off_the_event_loop(
    client: WorkersAIClient, emulator: Emulator, calls: list[Call]
) -> None:
    pcm, rate, width, channels = audio.read_wav((SPEECH / "living_room_light_en.wav").read_bytes())
    assert (rate, width, channels) == (16000, 2, 1)
    result = await client.transcribe_pcm("whisper-tiny-en", pcm, rate)  # a FLAC upload
    assert "living room" in normalize(result.text)

    melotts = await client.synthesize_pcm("melotts", "Hello there.", sample_rate=16000)  # WAV
    emulator.faults.aura_rest_ignores_encoding = True  # MP3 although linear16 was asked for
    aura = await client.synthesize_pcm("aura-2-en", "Hello there.", sample_rate=24000)
    assert melotts.duration > 0.3
    assert aura.duration > 0.3

    functions = {call.function for call in calls}
    assert {"encode_flac", "decode_audio"} <= functions, calls  # the paths were exercised
    assert len([c for c in calls if c.function == "decode_audio"]) >= 2
    assert on_the_loop(calls) == []


@pytest.fixture
async def recording_server(
    emulator_process: EmulatorProcess, tmp_path: Path
) -> AsyncIterator[tuple[ServerProcess, Path]]:
    """A server subprocess whose audio functions record where they ran (``sitecustomize``)."""
    records = tmp_path / "calls.jsonl"
    hook = sitecustomize_dir(tmp_path / "hook", records)
    env = emulator_env(emulator_process)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")]))
    async with ServerProcess(emulator_args(emulator_process), env) as server:
        yield server, records


async def test_server_resamples_large_chunks_and_decodes_off_the_event_loop(
    recording_server: tuple[ServerProcess, Path],
) -> None:
    server, records = recording_server
    # 44.1 kHz stereo in ONE audio-chunk (about 500 kB): resampled to 16 kHz mono for whisper.
    pcm, rate, width, channels = read_wav(SPEECH / "turn_on_the_living_room_lamp.wav")
    assert rate != 16000
    events = audio_events(pcm, rate, width, channels, samples_per_chunk=len(pcm))
    assert len(events) == 3  # audio-start, one audio-chunk, audio-stop
    async with server.client() as wyoming:
        await wyoming.write_event(Transcribe(name=WHISPER_TINY_EN, language="en").event())
        for event in events:
            await wyoming.write_event(event)
        replies = await read_until(wyoming, ["transcript"])
    assert "living room" in normalize(replies[-1].data["text"])

    async with server.client() as wyoming:  # melotts answers WAV: decoded by the client
        await wyoming.write_event(
            Synthesize(text="Hello there.", voice=SynthesizeVoice("melotts-en")).event()
        )
        await read_until(wyoming, ["audio-stop"])

    calls = read_calls(records)
    assert any(c.function == "convert" and c.input_bytes > audio.THREAD_BYTES for c in calls)
    assert any(c.function == "decode_audio" for c in calls), calls
    assert on_the_loop(calls) == []
