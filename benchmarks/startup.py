"""Raspberry Pi figures: start-up to listening, and resident memory idle and after use.

The server runs as ``python -m wyoming_server`` with Cloudflare credentials pointing at the
emulator (a separate process: a remote backend, as on a Pi, not the embedded emulator).

- ``start_to_listening``: from spawning the process to the first accepted TCP connection
  (polled every 5 ms), i.e. interpreter start, imports, argument parsing and the bind.
- ``start_to_info``: to the first ``info`` answer to ``describe``.
- ``cpu_to_listening``: CPU time (user + system, ``/proc/<pid>/stat``) the process used until
  listening: the start-up cost independent of other load on the machine (the wall times above
  grow with it; a Raspberry Pi 4 core is roughly 2-3x slower than this machine's).
- ``idle_rss_mb``: the server's VmRSS (``/proc/<pid>/status``) 1 s after it answered ``describe``.
- ``rss_after_use_mb``: VmRSS after one nova-3 transcription (16 kHz mono, streamed) and one aura
  synthesis: the working set once the lazily imported parts are loaded.

Targets (issue 8): start-up < 1 s, idle RSS < 50 MB. They measure; they do not gate CI.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from typing import Any

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from wyoming_server.emulator import EmulatorProcess

from .harness import free_port, speech_pcm16k, stop_process


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` in seconds (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (Linux ``/proc``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def _describe(port: int) -> None:
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Describe().event())
        while (event := await client.read_event()) is not None:
            if Info.is_type(event.type):
                return
    raise RuntimeError("no info")


async def _use(port: int, pcm: bytes) -> None:
    """One streamed transcription and one synthesis, so the lazy imports happen."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        for start in range(0, len(pcm), 3200):
            chunk = AudioChunk(rate=16000, width=2, channels=1, audio=pcm[start : start + 3200])
            await client.write_event(chunk.event())
        await client.write_event(AudioStop().event())
        while (event := await client.read_event()) is not None:
            if Transcript.is_type(event.type):
                break
    async with AsyncTcpClient("127.0.0.1", port) as client:
        voice = SynthesizeVoice(name="aura-2-en-luna")
        await client.write_event(Synthesize(text="The lamp is on.", voice=voice).event())
        while (event := await client.read_event()) is not None:
            if AudioStop.is_type(event.type):
                break


async def one_start(emu: EmulatorProcess, pcm: bytes) -> dict[str, float]:
    """Start the server once; its start-up times (s) and memory (MiB)."""
    port = free_port()
    env = dict(os.environ)
    env["CLOUDFLARE_ACCOUNT_ID"] = emu.account_id
    env["CLOUDFLARE_API_TOKEN"] = emu.api_token
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wyoming_server", "--uri", f"tcp://127.0.0.1:{port}",
        "--api-base-url", emu.base_url,
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while True:
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                if process.returncode is not None or time.perf_counter() - started > 60:
                    raise RuntimeError("the Wyoming server did not start") from None
                await asyncio.sleep(0.005)
                continue
            listening = time.perf_counter() - started
            cpu = cpu_seconds(process.pid)
            writer.close()
            await writer.wait_closed()
            break
        await _describe(port)
        info = time.perf_counter() - started
        await asyncio.sleep(1.0)
        idle = rss_mb(process.pid)
        await _use(port, pcm)
        used = rss_mb(process.pid)
    finally:
        await stop_process(process)
    return {
        "start_to_listening_s": listening,
        "start_to_info_s": info,
        "cpu_to_listening_s": cpu,
        "idle_rss_mb": idle,
        "rss_after_use_mb": used,
    }


async def run(emu: EmulatorProcess, repeats: int) -> dict[str, Any]:
    """``repeats`` cold starts; median and worst of each figure."""
    pcm = speech_pcm16k("living_room_light_en.wav")
    runs = [await one_start(emu, pcm) for _ in range(repeats)]
    report: dict[str, Any] = {"python": sys.version.split()[0], "runs": len(runs)}
    for key in runs[0]:
        values = [r[key] for r in runs]
        report[key] = {
            "median": round(statistics.median(values), 3),
            "max": round(max(values), 3),
        }
        print(f"  {key}: median {report[key]['median']}, max {report[key]['max']}")
    report["targets"] = {"start_to_listening_s": 1.0, "idle_rss_mb": 50.0}
    return report
