"""The server's request budget holds when Workers AI does not answer.

The emulator answers every API call only after 30 s (``latency_ms``); the server runs with
``--request-deadline 2`` and a per-attempt ``--request-timeout 10``. Each request must end in an
``error`` plus the terminal event the client waits for well within the budget — not after one
10 s attempt, let alone four. The bound (6 s) is generous for a loaded machine and far below
what a server without its deadline would take.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from wyoming.asr import Transcribe
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.wyoming_server.server_harness import (
    ServerProcess,
    audio_events,
    emulator_args,
    emulator_env,
    read_until,
    read_wav,
    types,
)
from wyoming_server.emulator import EmulatorProcess

BOUND_SECONDS = 6.0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def _budget_server(
    _emulator_process_session: EmulatorProcess,
) -> AsyncIterator[ServerProcess]:
    emulator = _emulator_process_session
    args = emulator_args(emulator, "--request-deadline", "2", "--request-timeout", "10")
    async with ServerProcess(args, emulator_env(emulator)) as server:
        yield server


@pytest_asyncio.fixture
async def slow_backend(
    _budget_server: ServerProcess, emulator_process: EmulatorProcess
) -> AsyncIterator[ServerProcess]:
    """A server with a 2 s deadline in front of an emulator that answers after 30 s."""
    await emulator_process.set_faults(latency_ms=30000)
    yield _budget_server
    await emulator_process.reset_faults()


@pytest.mark.parametrize("model", ["@cf/openai/whisper", "@cf/deepgram/nova-3"])
async def test_transcription_fails_within_the_request_deadline(
    slow_backend: ServerProcess, speech_dir: Path, model: str
) -> None:
    pcm, rate, width, channels = read_wav(speech_dir / "living_room_light_en.wav")
    async with slow_backend.client() as client:
        started = time.monotonic()
        await client.write_event(Transcribe(name=model, language="en").event())
        for event in audio_events(pcm, rate, width, channels):
            await client.write_event(event)
        events = await read_until(client, ["transcript-stop"])
        elapsed = time.monotonic() - started
    assert types(events)[0] == "error"
    assert "transcript" in types(events)
    assert elapsed < BOUND_SECONDS


@pytest.mark.parametrize("voice", ["aura-2-en-luna", "melotts-en"])
async def test_synthesis_fails_within_the_request_deadline(
    slow_backend: ServerProcess, voice: str
) -> None:
    async with slow_backend.client() as client:
        started = time.monotonic()
        await client.write_event(
            Synthesize(text="Hello there.", voice=SynthesizeVoice(name=voice)).event()
        )
        events = await read_until(client, ["audio-stop"])
        elapsed = time.monotonic() - started
    assert types(events) == ["error", "audio-stop"]
    assert elapsed < BOUND_SECONDS
