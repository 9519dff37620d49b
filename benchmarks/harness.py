"""Start the emulator and the Wyoming server as subprocesses, and small timing helpers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info

from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import audio

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO / "tests" / "data"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def emulator() -> AsyncIterator[EmulatorProcess]:
    """An emulator subprocess on loopback."""
    proc = EmulatorProcess()
    await proc.start()
    try:
        yield proc
    finally:
        await proc.stop()


@contextlib.asynccontextmanager
async def wyoming_server(emu: EmulatorProcess, *args: str) -> AsyncIterator[int]:
    """The Wyoming server as a subprocess talking to ``emu``; yields its TCP port."""
    port = free_port()
    env = dict(os.environ)
    env["CLOUDFLARE_ACCOUNT_ID"] = emu.account_id
    env["CLOUDFLARE_API_TOKEN"] = emu.api_token
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wyoming_server", "--uri", f"tcp://127.0.0.1:{port}",
        "--api-base-url", emu.base_url, *args,
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                async with AsyncTcpClient("127.0.0.1", port) as client:
                    await client.write_event(Describe().event())
                    while (event := await client.read_event()) is not None:
                        if Info.is_type(event.type):
                            break
                    if event is not None:
                        break
            except OSError:
                if time.monotonic() > deadline or process.returncode is not None:
                    raise RuntimeError("the Wyoming server did not start") from None
                await asyncio.sleep(0.2)
        yield port
    finally:
        await stop_process(process)


def speech_pcm16k(name: str) -> bytes:
    """A shared recording as 16 kHz mono s16le PCM."""
    pcm, rate, width, channels = audio.read_wav((SPEECH / name).read_bytes())
    return audio.convert_pcm(pcm, rate, width, channels, 16000)


def trim_silence(
    pcm: bytes, *, trailing: bool = True, threshold: int = 600, margin_seconds: float = 0.05
) -> bytes:
    """Cut leading (and, if ``trailing``, trailing) silence (|sample| < ``threshold``) from
    16 kHz s16le PCM, keeping ``margin_seconds`` around the speech."""
    samples = np.frombuffer(pcm, dtype=np.int16)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= threshold)
    if not loud.size:
        return pcm
    margin = int(margin_seconds * 16000)
    start = max(0, loud[0] - margin)
    end = min(len(samples), loud[-1] + margin) if trailing else len(samples)
    return samples[start:end].tobytes()


def long_utterance(seconds: float = 15.0) -> bytes:
    """About ``seconds`` (at most) of real English speech: recordings 0.3 s apart.

    The recordings are trimmed of their own silence, so the pauses inside the long utterance
    are 0.3 s, like between sentences (shorter than an end of turn). The last one is the short
    utterance's recording with its trailing silence kept, so both utterances end the same way
    and differ only in how much speech came before.
    """
    short = speech_pcm16k("living_room_light_en.wav")
    last = trim_silence(short, trailing=False)
    parts = (trim_silence(speech_pcm16k("turn_on_the_living_room_lamp.wav")), trim_silence(short))
    gap = bytes(int(0.3 * 16000) * 2)
    body = b""
    i = 0
    while len(body) + len(parts[i % 2]) + 2 * len(gap) + len(last) <= seconds * 32000:
        body += parts[i % 2] + gap
        i += 1
    return body + last


def summary(values: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 / mean / min / max of seconds, reported in milliseconds."""
    ms = sorted(v * 1000 for v in values)

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, round(p / 100 * (len(ms) - 1)))]

    return {
        "n": len(ms),
        "p50_ms": round(pct(50), 2),
        "p90_ms": round(pct(90), 2),
        "p99_ms": round(pct(99), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "min_ms": round(ms[0], 2),
        "max_ms": round(ms[-1], 2),
    }


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, up to 10 s for a graceful exit, then SIGKILL."""
    process.terminate()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), 10)
    if process.returncode is None:
        process.kill()
