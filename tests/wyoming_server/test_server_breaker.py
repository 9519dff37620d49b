"""The circuit breaker WITHOUT a fallback, end to end: a real Wyoming client, the real server
(subprocess) on the emulator, real speech.

After K failures that count (``workers_ai.failover.breaker_counts``) the task's breaker opens;
while open, a request fails at once with ``error`` (code ``service-unavailable``) plus the
terminal event its client waits for, and Workers AI is not asked (the emulator's request counts);
after ``--breaker-open`` seconds one request probes Workers AI and its success closes the
breaker. The same breaker with a fallback: test_server_failover.py.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
from wyoming.asr import Transcribe
from wyoming.event import Event
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

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

NOVA3 = "@cf/deepgram/nova-3"
AURA = "@cf/deepgram/aura-2-en"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server(emulator: EmulatorProcess, *flags: str) -> ServerProcess:
    return ServerProcess(
        emulator_args(emulator, "--request-timeout", "2", "--request-deadline", "3", *flags),
        emulator_env(emulator),
    )


async def _transcribe(server: ServerProcess, wav: Path) -> list[Event]:
    pcm, rate, width, channels = read_wav(wav)
    async with server.client() as client:
        await client.write_event(Transcribe(language="en").event())
        for event in audio_events(pcm, rate, width, channels):
            await client.write_event(event)
        return await read_until(client, {"transcript"})


def _errors(events: list[Event]) -> list[Event]:
    return [e for e in events if e.type == "error"]


async def _calls(emulator: EmulatorProcess, kind: str, model: str) -> int:
    return int((await emulator.request_counts()).get(kind, {}).get(model, 0))


async def _breaker_gauge(port: int, task: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        text = await response.text()
    prefix = f'wyoming_breaker_state{{task="{task}"}} '
    return next(line[len(prefix) :] for line in text.splitlines() if line.startswith(prefix))


async def test_stt_breaker_fails_fast_then_probes_and_closes(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    wav = speech_dir / "living_room_light_en.wav"
    port = _free_port()
    flags = (
        *("--no-stt-streaming", "--breaker-failures", "2", "--breaker-open", "4"),
        *("--metrics-port", str(port), "--metrics-host", "127.0.0.1"),
    )
    async with _server(emulator_process, *flags) as server:
        assert await _breaker_gauge(port, "stt") == "0.0"
        await emulator_process.set_faults(fail_next=100, status=500, code=3001)
        for _ in range(2):  # each waits out Workers AI's retries: the usual error
            events = await _transcribe(server, wav)
            assert [e.data["code"] for e in _errors(events)] == ["server-error-3001"]
            assert events[-1].type == "transcript"
        assert "Workers AI stt breaker closed -> open" in server.stderr
        assert await _breaker_gauge(port, "stt") == "2.0"

        await emulator_process.request_counts(reset=True)
        events = await _transcribe(server, wav)  # open: refused at once
        assert await _calls(emulator_process, "rest", NOVA3) == 0
        (error,) = _errors(events)
        assert error.data["code"] == "service-unavailable"
        assert "server-error-3001" in error.data["text"]
        assert "tried again in" in error.data["text"]
        assert events[-1].type == "transcript"
        assert events[-1].data["text"] == ""
        assert [e.type for e in events].index("error") < len(events) - 1

        await emulator_process.reset_faults()
        await asyncio.sleep(4.2)
        events = await _transcribe(server, wav)  # the probe: Workers AI answers
        assert _errors(events) == []
        assert normalize(events[-1].data["text"]) == "turn on the living room light"
        assert await _calls(emulator_process, "rest", NOVA3) == 1
        assert "Workers AI stt breaker half_open -> closed" in server.stderr
        assert await _breaker_gauge(port, "stt") == "0.0"
        events = await _transcribe(server, wav)  # closed: Workers AI as usual
        assert _errors(events) == []
        assert await _calls(emulator_process, "rest", NOVA3) == 2


async def test_stt_breaker_without_transcribe_and_on_the_websocket(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """nova-3 streaming (WebSocket) opens the breaker too; audio with no ``transcribe`` first
    is refused at ``audio-start``, and the rest of its audio is ignored up to ``audio-stop``."""
    wav = speech_dir / "living_room_light_en.wav"
    async with _server(emulator_process, "--breaker-failures", "1") as server:
        await emulator_process.set_faults(fail_next=100, status=500, code=3001)
        events = await _transcribe(server, wav)
        assert _errors(events) != []
        assert "Workers AI stt breaker closed -> open" in server.stderr
        await emulator_process.request_counts(reset=True)
        pcm, rate, width, channels = read_wav(wav)
        async with server.client() as client:
            for event in audio_events(pcm, rate, width, channels):
                await client.write_event(event)
            events = await read_until(client, {"transcript"})
            # The connection still serves the next request (also refused, the breaker open).
            await client.write_event(Transcribe(language="en").event())
            events += await read_until(client, {"transcript"})
        counts = await emulator_process.request_counts()
    assert counts.get("websocket", {}).get(NOVA3, 0) == 0
    assert counts.get("rest", {}).get(NOVA3, 0) == 0
    assert [e.data["code"] for e in _errors(events)] == ["service-unavailable"] * 2
    ends = [e.type for e in events if e.type in {"error", "transcript"}]
    assert ends == ["error", "transcript"] * 2
    assert [e.data["text"] for e in events if e.type == "transcript"] == ["", ""]


async def test_tts_breaker_fails_fast_then_probes_and_closes(
    emulator_process: EmulatorProcess,
) -> None:
    flags = ("--no-tts-streaming", "--breaker-failures", "1", "--breaker-open", "3")
    async with _server(emulator_process, *flags) as server:
        await emulator_process.set_faults(fail_next=100, status=500, code=3001)
        async with server.client() as client:
            await client.write_event(Synthesize(text="The kitchen light is on.").event())
            events = await read_until(client, {"audio-stop"})
        assert [e.data["code"] for e in _errors(events)] == ["server-error-3001"]
        assert "Workers AI tts breaker closed -> open" in server.stderr

        await emulator_process.request_counts(reset=True)
        async with server.client() as client:  # a streamed reply: refused at synthesize-start
            await client.write_event(SynthesizeStart().event())
            await client.write_event(SynthesizeChunk(text="It is twenty degrees. ").event())
            await client.write_event(SynthesizeStop().event())
            streamed = await read_until(client, {"synthesize-stopped"})
            await client.write_event(Synthesize(text="Anything else?").event())  # plain
            plain = await read_until(client, {"audio-stop"})
        assert (await emulator_process.request_counts()).get("rest", {}) == {}
        assert [e.type for e in streamed] == ["error", "synthesize-stopped"]
        assert [e.type for e in plain] == ["error", "audio-stop"]
        for error in (streamed[0], plain[0]):
            assert error.data["code"] == "service-unavailable"
            assert "text to speech" in error.data["text"]
            assert "tried again in" in error.data["text"]

        await emulator_process.reset_faults()
        await asyncio.sleep(3.2)
        async with server.client() as client:  # the probe: Workers AI speaks
            await client.write_event(Synthesize(text="The kitchen light is on.").event())
            events = await read_until(client, {"audio-stop"})
        assert _errors(events) == []
        assert sum(len(e.payload or b"") for e in events if e.type == "audio-chunk") > 24000
        assert (await emulator_process.request_counts()).get("rest", {}).get(AURA) == 1
        assert "Workers AI tts breaker half_open -> closed" in server.stderr


async def test_a_failure_that_does_not_count_leaves_the_breaker_closed(
    emulator_process: EmulatorProcess,
) -> None:
    """Empty text (8007) is the request's fault, not Workers AI being down."""
    flags = ("--no-tts-streaming", "--breaker-failures", "1")
    async with _server(emulator_process, *flags) as server:
        await emulator_process.set_faults(fail_next=100, status=400, code=8007)
        async with server.client() as client:
            await client.write_event(Synthesize(text="The kitchen light is on.").event())
            events = await read_until(client, {"audio-stop"})
        assert [e.data["code"] for e in _errors(events)] != ["service-unavailable"]
        assert "breaker closed -> open" not in server.stderr
        await emulator_process.reset_faults()
        async with server.client() as client:
            await client.write_event(Synthesize(text="The kitchen light is on.").event())
            events = await read_until(client, {"audio-stop"})
    assert _errors(events) == []
