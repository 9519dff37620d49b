"""Failures end in a Wyoming ``error`` plus the event HA waits for, and never hurt other clients.

Workers AI failures are injected with the emulator's faults (real HTTP error envelopes), not
with patched functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from wyoming.asr import Transcribe
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from tests.wyoming_server.server_harness import (
    ServerProcess,
    audio_events,
    emulator_args,
    normalize,
    read_until,
    read_wav,
    types,
)
from wyoming_server.emulator import EmulatorProcess

pytest_plugins = ["tests.wyoming_server.server_fixtures"]

LIGHT = "turn on the living room light"
WHISPER = "@cf/openai/whisper"


async def transcribe(server: ServerProcess, wav: Path, name: str | None = WHISPER) -> list[Event]:
    pcm, rate, width, channels = read_wav(wav)
    async with server.client() as client:
        await client.write_event(Transcribe(name=name, language="en").event())
        for event in audio_events(pcm, rate, width, channels):
            await client.write_event(event)
        return await read_until(client, ["transcript-stop"])


def transcript_text(events: list[Event]) -> str:
    [transcript] = [e for e in events if e.type == "transcript"]
    return str(transcript.data["text"])


@pytest_asyncio.fixture
async def wrong_token_server(
    emulator_process: EmulatorProcess,
) -> AsyncIterator[ServerProcess]:
    env = {
        "CLOUDFLARE_ACCOUNT_ID": emulator_process.account_id,
        "CLOUDFLARE_API_TOKEN": "not-the-right-token-0000000000000000000",
    }
    async with ServerProcess(emulator_args(emulator_process), env) as server:
        yield server


@pytest.mark.parametrize("model", [WHISPER, "@cf/deepgram/nova-3", "@cf/deepgram/flux"])
async def test_wrong_token_gives_error_and_empty_transcript(
    wrong_token_server: ServerProcess, speech_dir: Path, model: str
) -> None:
    events = await transcribe(wrong_token_server, speech_dir / "living_room_light_en.wav", model)
    assert types(events) == ["error", "transcript-start", "transcript", "transcript-stop"]
    assert events[0].data["code"].startswith("authentication-error")
    assert transcript_text(events) == ""


@pytest.mark.parametrize("voice", ["aura-2-en-luna", "melotts-en"])
async def test_wrong_token_tts_gives_error_and_terminal_events(
    wrong_token_server: ServerProcess, voice: str
) -> None:
    async with wrong_token_server.client() as client:
        await client.write_event(
            Synthesize(text="Hello there.", voice=SynthesizeVoice(name=voice)).event()
        )
        plain = await read_until(client, ["audio-stop"])
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name=voice)).event())
        await client.write_event(SynthesizeChunk(text="Hello there. How are you?").event())
        await client.write_event(SynthesizeStop().event())
        streamed = await read_until(client, ["synthesize-stopped"])
    assert types(plain) == ["error", "audio-stop"]
    assert plain[0].data["code"].startswith("authentication-error")
    assert types(streamed) == ["error", "synthesize-stopped"]


async def test_rate_limit_then_success_is_retried(
    server: ServerProcess, emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    await emulator_process.set_faults(fail_next=1, status=429, code=3040)
    events = await transcribe(server, speech_dir / "living_room_light_en.wav")
    assert "error" not in types(events)
    assert normalize(transcript_text(events)) == LIGHT
    assert (await emulator_process.get_faults())["pending_failures"] == 0  # it was served


async def test_repeated_server_errors_end_in_an_error_within_the_deadline(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    env = {
        "CLOUDFLARE_ACCOUNT_ID": emulator_process.account_id,
        "CLOUDFLARE_API_TOKEN": emulator_process.api_token,
    }
    args = emulator_args(emulator_process, "--request-deadline", "3", "--request-timeout", "2")
    await emulator_process.set_faults(fail_next=1000, status=500, code=3001)
    async with ServerProcess(args, env) as server:
        events = await transcribe(server, speech_dir / "living_room_light_en.wav")
        async with server.client() as client:
            await client.write_event(Synthesize(text="Hello there.").event())
            tts = await read_until(client, ["audio-stop"])
    assert types(events) == ["error", "transcript-start", "transcript", "transcript-stop"]
    assert events[0].data["code"].startswith(("server-error", "timeout"))
    assert transcript_text(events) == ""
    assert types(tts) == ["error", "audio-stop"]


@pytest.mark.parametrize(
    "garbage",
    [
        b"this is not json\n",
        b'["a", "list"]\n',
        b'{"type": "audio-chunk", "data_length": "many"}\n',
        b'{"type": "describe", "data_length": 50}\n{"short": 1}',
        b'{"no": "type"}\n',
        b"\xff\xfe\x00garbage\n",
    ],
)
async def test_garbage_closes_only_that_connection(server: ServerProcess, garbage: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    async with server.client() as other:
        writer.write(garbage)
        await writer.drain()
        if garbage.endswith(b"}"):
            writer.write_eof()  # truncated event: the server sees EOF inside it
        answer = await asyncio.wait_for(reader.read(), 30)  # until the server closes
        writer.close()
        assert b'"type": "error"' in answer
        assert b"malformed-event" in answer
        # A connection opened before, and one opened after, are served normally.
        await other.write_event(Describe().event())
        assert (await read_until(other, ["info"]))[-1].type == "info"
    async with server.client() as client:
        await client.write_event(Describe().event())
        assert (await read_until(client, ["info"]))[-1].type == "info"


async def test_failing_session_does_not_disturb_a_concurrent_one(
    server: ServerProcess, speech_dir: Path
) -> None:
    async def bad() -> list[Event]:
        async with server.client() as client:
            await client.write_event(SynthesizeStart().event())
            await client.write_event(Event(type="synthesize-chunk", data={"text": 5}))
            await client.write_event(SynthesizeStop().event())
            return await read_until(client, ["synthesize-stopped"])

    good, failed = await asyncio.gather(
        transcribe(server, speech_dir / "living_room_light_en.wav"), bad()
    )
    assert normalize(transcript_text(good)) == LIGHT
    assert types(failed) == ["error", "synthesize-stopped"]
    assert failed[0].data["code"] == "invalid-event"
