"""Load: many concurrent Wyoming sessions against the emulator's load mode (no inference).

``python -m benchmarks.load [--sessions 200] [--rounds 3] [--model-latency-ms 200]`` writes
``benchmarks/results/load.json``. Scenarios, each on a fresh server process, each round with all
sessions at once:

- ``stt-nova-3-websocket`` / ``stt-whisper-rest``: ``transcribe`` + 2.4 s of real speech (sent
  as fast as possible in 100 ms chunks) + ``audio-stop``; latency = ``audio-stop`` →
  ``transcript``;
- ``tts-aura-websocket`` / ``tts-aura-rest`` (``--no-tts-streaming``): ``synthesize`` of two
  sentences; latency = ``synthesize`` → ``audio-stop``.

The same calls are made directly with ``WorkersAIClient`` at the same concurrency; the latency
the server adds is the difference of the percentiles. Also measured: failures (an ``error``,
no terminal event, a wrong transcript, no audio), the server's peak RSS and CPU time per
request, and its memory per idle connection and per open streaming session.
Linux only (reads ``/proc``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.tts import Synthesize, SynthesizeVoice

from wyoming_server.emulator import EmulatorProcess
from wyoming_server.emulator.load_mode import CANNED_TEXT
from wyoming_server.workers_ai import WorkersAIClient

from .harness import REPO, free_port, speech_pcm16k, summary

TEXT = "The living room light is on. It is twenty one degrees inside."
LIMIT_FLAGS = ("--max-connections", "5000", "--max-backend-requests", "5000")
"""The defaults (100 connections, 32 backend requests) are sized for a home; a load test
raises them so that it measures the server, not its limits."""
CHUNK = 3200
SPEECH = speech_pcm16k("living_room_light_en.wav")


# ---------------------------------------------------------------------------- the server


class Server:
    """The Wyoming server subprocess: its port, CPU time and memory."""

    def __init__(self, port: int, pid: int) -> None:
        self.port = port
        self.pid = pid

    def _status(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no {key}")

    @property
    def rss(self) -> int:
        """Resident memory now (bytes)."""
        return self._status("VmRSS:")

    @property
    def peak_rss(self) -> int:
        """Peak resident memory (bytes)."""
        return self._status("VmHWM:")

    @property
    def cpu_seconds(self) -> float:
        """User + system CPU time so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def server(emu: EmulatorProcess, *args: str) -> AsyncIterator[Server]:
    port = free_port()
    env = {**os.environ, "CLOUDFLARE_ACCOUNT_ID": emu.account_id}
    env["CLOUDFLARE_API_TOKEN"] = emu.api_token
    with tempfile.TemporaryFile() as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wyoming_server", "--uri", f"tcp://127.0.0.1:{port}",
            "--api-base-url", emu.base_url, *LIMIT_FLAGS, *args,
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        try:
            for _ in range(300):
                with contextlib.suppress(OSError):
                    async with AsyncTcpClient("127.0.0.1", port) as client:
                        await client.write_event(Describe().event())
                        if await client.read_event() is not None:
                            break
                await asyncio.sleep(0.2)
            yield Server(port, process.pid)
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), 15)


# ---------------------------------------------------------------------------- sessions


async def _read_until(client: AsyncTcpClient, terminal: str) -> list[Event]:
    events: list[Event] = []
    async with asyncio.timeout(120):
        while (event := await client.read_event()) is not None:
            events.append(event)
            if event.type == terminal:
                break
    return events


async def stt_session(port: int, model: str) -> tuple[float, str | None]:
    """(seconds from audio-stop to transcript, failure or None)."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Transcribe(name=model, language="en").event())
        await client.write_event(AudioStart(16000, 2, 1).event())
        for offset in range(0, len(SPEECH), CHUNK):
            await client.write_event(
                AudioChunk(16000, 2, 1, SPEECH[offset : offset + CHUNK]).event()
            )
        await client.write_event(AudioStop().event())
        started = time.perf_counter()
        events = await _read_until(client, "transcript")
        elapsed = time.perf_counter() - started
    texts = [e.data.get("text") for e in events if e.type == "transcript"]
    if any(e.type == "error" for e in events) or texts != [CANNED_TEXT]:
        return elapsed, f"{[e.type for e in events][:6]} {texts}"
    return elapsed, None


async def tts_session(port: int) -> tuple[float, str | None]:
    """(seconds from synthesize to audio-stop, failure or None)."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        started = time.perf_counter()
        voice = SynthesizeVoice(name="aura-2-en-luna")
        await client.write_event(Synthesize(text=TEXT, voice=voice).event())
        events = await _read_until(client, "audio-stop")
        elapsed = time.perf_counter() - started
    audio = sum(len(e.payload or b"") for e in events if e.type == "audio-chunk")
    if any(e.type == "error" for e in events) or not audio or events[-1].type != "audio-stop":
        return elapsed, f"{[e.type for e in events][:6]} {audio} bytes"
    return elapsed, None


async def direct_stt(client: WorkersAIClient, model: str) -> float:
    if model.endswith("nova-3"):
        async with client.listen(model, sample_rate=16000, language="en") as session:
            for offset in range(0, len(SPEECH), CHUNK):
                await session.send_audio(SPEECH[offset : offset + CHUNK])
            started = time.perf_counter()
            await session.finish(timeout=60)
            return time.perf_counter() - started
    started = time.perf_counter()
    await client.transcribe_pcm(model, SPEECH, 16000, language="en")
    return time.perf_counter() - started


async def direct_tts(client: WorkersAIClient, websocket: bool) -> float:
    started = time.perf_counter()
    if websocket:
        async with client.speak(
            "@cf/deepgram/aura-2-en", speaker="luna", sample_rate=24000
        ) as speak:
            for sentence in TEXT.split(". "):
                await speak.send_text(sentence)
            async for _ in speak.flushed_audio(timeout=60):
                pass
    else:
        await asyncio.gather(
            *(
                client.synthesize_pcm("@cf/deepgram/aura-2-en", s, speaker="luna")
                for s in TEXT.split(". ")
            )
        )
    return time.perf_counter() - started


# ---------------------------------------------------------------------------- scenarios


async def _rounds(
    sessions: int, rounds: int, one: Callable[[], Awaitable[tuple[float, str | None]]]
) -> tuple[list[float], list[str]]:
    times: list[float] = []
    failures: list[str] = []
    for _ in range(rounds):
        results = await asyncio.gather(*(one() for _ in range(sessions)), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                failures.append(f"{type(result).__name__}: {result}")
            else:
                times.append(result[0])
                if result[1]:
                    failures.append(result[1])
    return times, failures


async def scenario(
    emu: EmulatorProcess,
    name: str,
    sessions: int,
    rounds: int,
    server_args: tuple[str, ...],
    session: Callable[[int], Awaitable[tuple[float, str | None]]],
    direct: Callable[[WorkersAIClient], Awaitable[float]],
) -> dict[str, Any]:
    async with server(emu, *server_args) as srv:
        await session(srv.port)  # warm-up
        cpu_before = srv.cpu_seconds
        wall = time.perf_counter()
        times, failures = await _rounds(sessions, rounds, lambda: session(srv.port))
        wall = time.perf_counter() - wall
        cpu = srv.cpu_seconds - cpu_before
        peak = srv.peak_rss
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        client = WorkersAIClient(http, emu.account_id, emu.api_token, api_base_url=emu.base_url)

        async def timed_direct() -> tuple[float, str | None]:
            return await direct(client), None

        direct_times, direct_failures = await _rounds(sessions, rounds, timed_direct)
    through, baseline = summary(times), summary(direct_times)
    requests = sessions * rounds
    out = {
        "sessions": sessions,
        "rounds": rounds,
        "requests": requests,
        "failures": len(failures),
        "failure_examples": failures[:5],
        "through_server": through,
        "direct": baseline,
        "direct_failures": len(direct_failures),
        "server_added_ms": {
            "p50": round(through["p50_ms"] - baseline["p50_ms"], 2),
            "p99": round(through["p99_ms"] - baseline["p99_ms"], 2),
        },
        "server_cpu_ms_per_request": round(cpu * 1000 / requests, 2),
        "server_peak_rss_mib": round(peak / 2**20, 1),
        "wall_seconds": round(wall, 1),
    }
    print(
        f"  {name}: {len(failures)} failures / {requests}; p50 {through['p50_ms']} ms "
        f"(direct {baseline['p50_ms']}), p99 {through['p99_ms']} ms (direct "
        f"{baseline['p99_ms']}); CPU {out['server_cpu_ms_per_request']} ms/request; "
        f"peak RSS {out['server_peak_rss_mib']} MiB"
    )
    return out


async def memory(emu: EmulatorProcess, count: int) -> dict[str, Any]:
    """Server memory per idle connection and per open nova-3 streaming session."""
    async with server(emu) as srv:
        async with contextlib.AsyncExitStack() as stack:
            await asyncio.sleep(0.5)
            base = srv.rss
            clients = [
                await stack.enter_async_context(AsyncTcpClient("127.0.0.1", srv.port))
                for _ in range(count)
            ]
            for client in clients:
                await client.write_event(Describe().event())
                await client.read_event()
            await asyncio.sleep(0.5)
            idle = (srv.rss - base) / count
        await asyncio.sleep(1.0)
        base = srv.rss
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(AsyncTcpClient("127.0.0.1", srv.port))
                for _ in range(count)
            ]
            for client in clients:
                await client.write_event(
                    Transcribe(name="@cf/deepgram/nova-3", language="en").event()
                )
                await client.write_event(AudioStart(16000, 2, 1).event())
                for offset in range(0, 32000, CHUNK):  # 1 s of speech, session left open
                    await client.write_event(
                        AudioChunk(16000, 2, 1, SPEECH[offset : offset + CHUNK]).event()
                    )
            await asyncio.sleep(2.0)
            active = (srv.rss - base) / count
            for client in clients:
                await client.write_event(AudioStop().event())
            for client in clients:
                await _read_until(client, "transcript")
    out = {
        "connections": count,
        "per_idle_connection_kib": round(idle / 1024, 1),
        "per_active_nova3_session_kib": round(active / 1024, 1),
    }
    print(f"  memory: {out}")
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model-latency-ms", type=float, default=200.0)
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "load.json"
    )
    args = parser.parse_args()
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "emulator": {"load_mode": True, "model_latency_ms": args.model_latency_ms},
        "server_flags": list(LIMIT_FLAGS),
    }
    n, r = args.sessions, args.rounds
    async with EmulatorProcess(load_mode=True) as emu:
        await emu.set_faults(model_latency_ms=args.model_latency_ms)
        nova, whisper = "@cf/deepgram/nova-3", "@cf/openai/whisper"
        report["stt-nova-3-websocket"] = await scenario(
            emu,
            "STT nova-3 WebSocket",
            n,
            r,
            (),
            lambda p: stt_session(p, nova),
            lambda c: direct_stt(c, nova),
        )
        report["stt-whisper-rest"] = await scenario(
            emu,
            "STT whisper REST",
            n,
            r,
            (),
            lambda p: stt_session(p, whisper),
            lambda c: direct_stt(c, whisper),
        )
        report["tts-aura-websocket"] = await scenario(
            emu,
            "TTS aura WebSocket",
            n,
            r,
            (),
            tts_session,
            lambda c: direct_tts(c, websocket=True),
        )
        report["tts-aura-rest"] = await scenario(
            emu,
            "TTS aura REST",
            n,
            r,
            ("--no-tts-streaming",),
            tts_session,
            lambda c: direct_tts(c, websocket=False),
        )
        report["memory"] = await memory(emu, n)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    asyncio.run(main())
