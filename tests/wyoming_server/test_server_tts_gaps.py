"""Streamed replies whose text pauses for seconds (an LLM waiting on a tool call).

Wyoming client → server subprocess → emulator subprocess (real Piper) whose aura WebSockets
close after :data:`SPEAK_IDLE_S` without a message (the emulator's ``speak_idle_timeout_s``;
Deepgram documents none, Workers AI may add one), so every gap here outlasts the socket. Each
reply must say every sentence exactly once (Whisper on the emulator hears the audio back),
reopen the WebSocket, and never leave the client without an audio event for longer than
:data:`~wyoming_server.server.audio_gaps.MAX_AUDIO_GAP_S`
(https://github.com/esphome/home-assistant-voice-pe/issues/612).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator, Sequence

import aiohttp
import pytest
import pytest_asyncio
from wyoming.asr import Transcribe
from wyoming.event import Event
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.wyoming_server.server_harness import (
    ServerProcess,
    audio_events,
    emulator_args,
    emulator_env,
    normalize,
    pcm_of,
    types,
)
from wyoming_server.emulator import Emulator, EmulatorProcess
from wyoming_server.server.audio_gaps import MAX_AUDIO_GAP_S

SPEAK_IDLE_S = 2.0
"""Seconds after which the emulator closes an idle aura WebSocket in these tests."""
VOICE = "aura-2-en-luna"
MODEL = "@cf/deepgram/aura-2-en"
WEATHER = "The weather is sunny today."
KITCHEN = "Please turn on the kitchen light."
GARAGE = "Please close the garage door."
ZERO_RUN = re.compile(rb"(?:\x00\x00){1200,}")
"""50 ms or more of digital silence at 24 kHz: the server's gap filler (Piper never writes it)."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gaps_emulator() -> AsyncIterator[EmulatorProcess]:
    async with EmulatorProcess(preload=True, speak_idle_timeout_s=SPEAK_IDLE_S) as proc:
        yield proc


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gaps_server(gaps_emulator: EmulatorProcess) -> AsyncIterator[ServerProcess]:
    # No spare WebSockets: every WebSocket the emulator counts belongs to the reply.
    args = emulator_args(gaps_emulator, "--no-spare-websockets")
    async with ServerProcess(args, emulator_env(gaps_emulator)) as server:
        yield server


async def stream_with_gaps(
    server: ServerProcess, pieces: Sequence[tuple[float, str]]
) -> tuple[list[tuple[float, Event]], list[float]]:
    """Stream each text piece after waiting its seconds, read the reply concurrently; returns
    (arrival time, event) pairs from ``synthesize-start`` (time 0) to ``synthesize-stopped``,
    and the time each piece was sent."""
    async with server.client() as client:
        received: list[tuple[float, Event]] = []
        start = time.monotonic()

        async def read() -> None:
            while True:
                event = await asyncio.wait_for(client.read_event(), 60)
                assert event is not None, "the server closed the connection"
                received.append((time.monotonic() - start, event))
                if event.type == "synthesize-stopped":
                    return

        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(VOICE)).event())
        reader = asyncio.create_task(read())
        sent: list[float] = []
        for delay, text in pieces:
            await asyncio.sleep(delay)
            await client.write_event(SynthesizeChunk(text=text).event())
            sent.append(time.monotonic() - start)
        await client.write_event(SynthesizeStop().event())
        await reader
    return received, sent


def longest_audio_gap(received: list[tuple[float, Event]]) -> float:
    """Longest time (s) from ``synthesize-start`` or an audio event to the next audio event,
    up to ``audio-stop``."""
    times = [0.0] + [t for t, e in received if e.type.startswith("audio-")]
    return max(b - a for a, b in itertools.pairwise(times))


async def heard(server: ServerProcess, pcm: bytes, rate: int) -> str:
    """What Whisper hears in ``pcm`` with the filler's silence cut short, normalized."""
    pcm = ZERO_RUN.sub(b"\x00\x00" * 1200, pcm)
    async with server.client() as client:
        await client.write_event(Transcribe(name="@cf/openai/whisper", language="en").event())
        for event in audio_events(pcm, rate, 2, 1):
            await client.write_event(event)
        while (event := await asyncio.wait_for(client.read_event(), 60)) is not None:
            if event.type == "transcript":
                return normalize(event.data["text"])
    raise AssertionError("no transcript")


@pytest.mark.parametrize(
    "pieces",
    [
        # The client waits 3 s for the first text, then 6 s after the first sentence.
        [
            (3.0, f"{WEATHER} Please"),
            (6.0, " turn on the kitchen light. Please"),
            (0.2, " close the garage door."),
        ],
        # 12 s after the first sentence, 6 s after the second.
        [(0.0, f"{WEATHER} Please"), (12.0, " turn on the kitchen light. "), (6.0, GARAGE)],
    ],
    ids=["6s-gap", "12s-gap"],
)
async def test_a_reply_with_long_text_gaps_says_every_sentence_once_without_stalling(
    gaps_server: ServerProcess, gaps_emulator: EmulatorProcess, pieces: list[tuple[float, str]]
) -> None:
    await gaps_emulator.request_counts(reset=True)
    log_start = len(gaps_server.stderr)
    received, sent = await stream_with_gaps(gaps_server, pieces)
    events = [e for _, e in received]
    assert types(events) == ["audio-start", "audio-chunk", "audio-stop", "synthesize-stopped"]
    assert longest_audio_gap(received) <= MAX_AUDIO_GAP_S
    # The sentence finished before a gap is spoken during it, not after it.
    for (sent_at, _), (next_sent_at, (delay, _)) in itertools.pairwise(
        zip(sent, pieces, strict=True)
    ):
        if delay >= 5:
            assert any(
                sent_at < t < next_sent_at and (e.payload or b"").strip(b"\x00")
                for t, e in received
                if e.type == "audio-chunk"
            ), f"no speech between {sent_at:.1f} s and {next_sent_at:.1f} s"
    pcm, rate = pcm_of(events)
    assert await heard(gaps_server, pcm, rate) == normalize(f"{WEATHER} {KITCHEN} {GARAGE}")
    # The WebSocket closed during the gap and was reopened (once per gap that outlasted it).
    counts = await gaps_emulator.request_counts()
    assert counts["websocket"].get(MODEL, 0) >= 2
    assert "reopening" in gaps_server.stderr[log_start:]
    assert "using REST" not in gaps_server.stderr[log_start:]
    assert counts["rest"].get(MODEL, 0) == 0


async def test_the_emulator_closes_an_idle_speak_websocket_but_not_a_speaking_one() -> None:
    """The emulator's speak idle timeout: NET-0001 after silence, never while a flush is
    spoken; without the setting (Deepgram documents no idle timeout) it stays open."""
    async with Emulator(speak_idle_timeout_s=0.5) as emu, aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {emu.api_token}"}
        url = emu.run_url(MODEL).replace("http", "ws", 1) + "?speaker=luna"
        async with http.ws_connect(url, headers=headers) as ws:
            await ws.send_json({"type": "Speak", "text": f"{WEATHER} {KITCHEN} {GARAGE}"})
            await ws.send_json({"type": "Flush"})
            kinds = []
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    kinds.append(msg.json()["type"])
            assert "Flushed" in kinds  # spoken in full although it took longer than 0.5 s
            assert ws.close_code == 1011
    async with Emulator() as emu, aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {emu.api_token}"}
        url = emu.run_url(MODEL).replace("http", "ws", 1) + "?speaker=luna"
        async with http.ws_connect(url, headers=headers) as ws:
            await ws.receive_json()  # Metadata
            with pytest.raises(TimeoutError):
                await ws.receive(timeout=1.5)
            assert not ws.closed
