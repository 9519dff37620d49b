"""The speech-to-text wait after the end of speech, when flux ends the turn itself.

Real Wyoming client → server subprocess (``--metrics-port``) → emulator flux, with real speech
followed by silence while the microphone stays open: flux sends ``EndOfTurn`` before the client
sends ``audio-stop``. The wait must still be recorded (Prometheus histogram and log line),
measured from when the audio up to the ``EndOfTurn``'s ``audio_window_end`` had arrived. Nothing
is asserted about speed, only that the figure exists and is consistent with what the client saw.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import aiohttp
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop

from tests.wyoming_server.server_harness import (
    EVENT_TIMEOUT,
    ServerProcess,
    emulator_args,
    emulator_env,
    normalize,
    read_until,
    read_wav,
)
from tests.wyoming_server.test_server_vocabulary import free_port
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import catalog

RATE = 16000
CHUNK_BYTES = RATE // 10 * 2  # 100 ms of audio per audio-chunk
MAX_SILENCE_CHUNKS = 300  # hang guard: 30 s of silence at most


def samples(text: str, name: str, **labels: str) -> list[float]:
    """Every value of the exposition sample ``name`` whose labels include ``labels``."""
    found = []
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            found.append(float(match.group(3)))
    return found


async def test_flux_end_of_turn_wait_is_recorded_from_the_audio_it_was_based_on(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    port = free_port()
    args = emulator_args(
        emulator_process, "--metrics-port", str(port), "--metrics-host", "127.0.0.1"
    )
    pcm, rate, _, _ = read_wav(speech_dir / "living_room_light_en.wav")
    assert rate == RATE
    async with ServerProcess(args, emulator_env(emulator_process)) as server:
        async with server.client() as client:
            await client.write_event(Transcribe(name=catalog.FLUX, language="en").event())
            await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
            reader = asyncio.create_task(read_until(client, ["transcript"], EVENT_TIMEOUT))
            for start in range(0, len(pcm), CHUNK_BYTES):
                chunk = AudioChunk(rate=RATE, width=2, channels=1, audio=pcm[start:][:CHUNK_BYTES])
                await client.write_event(chunk.event())
                await asyncio.sleep(0.02)
            speech_sent = time.monotonic()  # all speech is out; only silence follows
            silence = AudioChunk(rate=RATE, width=2, channels=1, audio=bytes(CHUNK_BYTES))
            for _ in range(MAX_SILENCE_CHUNKS):
                if reader.done():
                    break
                await client.write_event(silence.event())
                await asyncio.sleep(0.05)
            events = await reader
            transcript_seen = time.monotonic()
            # Flux ended the turn: the audio-stop comes after the transcript.
            await client.write_event(AudioStop().event())
            await read_until(client, ["transcript-stop"])
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/metrics") as response,
        ):
            text = await response.text()
        log = server.stderr
    assert normalize(events[-1].data["text"]) == "turn on the living room light"
    name = "wyoming_stt_wait_after_end_of_speech_seconds"
    flux = {"model": catalog.FLUX}
    assert samples(text, f"{name}_count", **flux, end="end-of-turn") == [1.0]
    assert samples(text, f"{name}_count", **flux, end="audio-stop") == []
    [wait] = samples(text, f"{name}_sum", **flux, end="end-of-turn")
    # The audio flux decided on ends in the silence after the speech, so it arrived after the
    # last speech chunk was sent: the wait is positive and shorter than what the client saw
    # between its last speech chunk and the transcript.
    assert 0 < wait < transcript_seen - speech_sent
    logged = re.search(r"Transcript \(flux, (\d+) ms after end-of-turn\)", log)
    assert logged is not None, log[-3000:]
