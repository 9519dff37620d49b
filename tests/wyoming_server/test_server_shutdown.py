"""SIGTERM (a container stop) ends the server cleanly and tells every client.

Requests in flight finish within ``--shutdown-grace``; the others get ``error``
(``server-stopping``) and the terminal event they wait for; idle connections are closed; the
process exits 0 well within a container's 10 s stop window, without a traceback.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping
from wyoming.tts import SynthesizeChunk, SynthesizeStart

from tests.wyoming_server.server_harness import (
    ServerProcess,
    audio_events,
    emulator_args,
    emulator_env,
    normalize,
    read_until,
    read_wav,
)
from wyoming_server.emulator import EmulatorProcess

pytest_plugins = ["tests.wyoming_server.server_fixtures"]

STOP_WINDOW = 10.0
"""Seconds Docker/Kubernetes wait after SIGTERM before SIGKILL."""


async def test_sigterm_finishes_in_flight_requests_and_tells_the_rest(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    args = emulator_args(emulator_process, "--shutdown-grace", "5")
    pcm, rate, width, channels = read_wav(speech_dir / "living_room_light_en.wav")
    server = ServerProcess(args, emulator_env(emulator_process))
    await server.start()
    try:
        idle = server.client()
        finishing = server.client()
        endless_stt = server.client()
        endless_tts = server.client()
        for client in (idle, finishing, endless_stt, endless_tts):
            await client.connect()
        await idle.write_event(Describe().event())
        await read_until(idle, ["info"])

        # An STT stream whose audio never ends, and a TTS stream whose text never ends.
        await endless_stt.write_event(Transcribe(name="@cf/deepgram/nova-3").event())
        await endless_stt.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        await endless_stt.write_event(
            AudioChunk(rate=16000, width=2, channels=1, audio=pcm[:32000]).event()
        )
        await endless_tts.write_event(SynthesizeStart().event())
        await endless_tts.write_event(SynthesizeChunk(text="Hello there. How are").event())
        await read_until(endless_tts, ["audio-start"])

        # A whole request whose answer takes 1.5 s or more: inside the grace period.
        await emulator_process.set_faults(model_latency_ms=1500)
        await finishing.write_event(Transcribe(name="@cf/openai/whisper", language="en").event())
        for event in audio_events(pcm, rate, width, channels):
            await finishing.write_event(event)
        await asyncio.sleep(0.3)

        started = time.monotonic()
        stopping = asyncio.create_task(server.stop())
        finished, stt, tts, idle_end = await asyncio.gather(
            read_until(finishing, ["transcript-stop"]),
            read_until(endless_stt, ["transcript-stop"]),
            read_until(endless_tts, ["synthesize-stopped"]),
            asyncio.wait_for(idle.read_event(), 30),
        )
        returncode = await stopping
        elapsed = time.monotonic() - started
    finally:
        await server.stop()
        for client in (idle, finishing, endless_stt, endless_tts):
            await client.disconnect()

    assert normalize(transcript_text(finished)) == "turn on the living room light", (
        finished,
        server.stderr[-3000:],
    )
    assert "error" not in [e.type for e in finished]
    assert_told(stt, "transcript")
    assert_told(tts, "synthesize-stopped")
    assert "audio-stop" in [e.type for e in tts]
    assert idle_end is None  # closed, nothing sent
    assert returncode == 0
    assert elapsed < STOP_WINDOW
    assert "Traceback" not in server.stderr, server.stderr[-3000:]
    assert "Task was destroyed" not in server.stderr


def transcript_text(events: list[Event]) -> str:
    [transcript] = [e for e in events if e.type == "transcript"]
    return str(transcript.data["text"])


def assert_told(events: list[Event], terminal: str) -> None:
    kinds = [e.type for e in events]
    assert "error" in kinds, kinds
    error = events[kinds.index("error")]
    assert error.data["code"] == "server-stopping"
    assert terminal in kinds[kinds.index("error") :]


async def test_new_connections_are_refused_while_stopping(
    emulator_process: EmulatorProcess,
) -> None:
    args = emulator_args(emulator_process, "--shutdown-grace", "5")
    async with ServerProcess(args, emulator_env(emulator_process)) as server:
        busy = server.client()
        await busy.connect()
        await busy.write_event(SynthesizeStart().event())  # keeps the server in its grace
        await busy.write_event(Ping().event())
        await read_until(busy, ["pong"])  # the stream is open
        stopping = asyncio.create_task(server.stop())
        await asyncio.sleep(0.5)
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", server.port)
        events = await read_until(busy, ["synthesize-stopped"])
        # The open stream may have got silence meanwhile (audio_gaps.py), then the error.
        errors = [e for e in events if e.type == "error"]
        assert [e.data["code"] for e in errors] == ["server-stopping"]
        assert await stopping == 0
        await busy.disconnect()
