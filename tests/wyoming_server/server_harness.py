"""Test harness for the Wyoming server: run it as a subprocess, talk to it over TCP.

``ServerProcess`` starts ``python -m wyoming_server --uri tcp://127.0.0.1:0 ...`` with
credentials in its environment (never on the command line), waits for its
``Ready: listening on tcp://127.0.0.1:PORT`` log line and stops it with SIGTERM. Like
``EmulatorProcess`` it uses a plain ``subprocess.Popen`` and log files, so one instance can live
in a session-scoped fixture and serve tests on any event loop.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType

from aiohttp import web
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event

READY_RE = re.compile(r"Ready: listening on tcp://[^\s:]+:(\d+)")
EVENT_TIMEOUT = 60.0
"""Seconds a test waits for one event before it fails (a hang guard, not a speed check)."""


def clean_env() -> dict[str, str]:
    """This process's environment without any ``CLOUDFLARE_*`` variable."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFLARE_")}


class ServerProcess:
    """``python -m wyoming_server`` as a child process on a free loopback port.

    ``env`` is added to a copy of this process's environment without any ``CLOUDFLARE_*``
    variables; ``args`` are extra command-line flags.
    """

    def __init__(
        self, args: Sequence[str] = (), env: dict[str, str] | None = None, *, timeout: float = 60
    ) -> None:
        self.args = list(args)
        self.env = {**clean_env(), **(env or {})}
        self.timeout = timeout
        self.port = 0
        self.returncode: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._tmpdir = tempfile.TemporaryDirectory(prefix="wyoming-server-test-")
        self.stdout_path = Path(self._tmpdir.name) / "stdout"
        self.stderr_path = Path(self._tmpdir.name) / "stderr"

    @property
    def pid(self) -> int:
        """The child's process ID (after :meth:`start`)."""
        assert self._process is not None
        return self._process.pid

    @property
    def stderr(self) -> str:
        """Everything the server logged so far."""
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    @property
    def stdout(self) -> bytes:
        """Everything the server printed to stdout so far (must stay empty)."""
        return self.stdout_path.read_bytes() if self.stdout_path.exists() else b""

    async def start(self) -> None:
        """Start the child and wait for its Ready line.

        Raises:
            RuntimeError: the child exited or did not get ready within ``timeout`` seconds.
        """
        command = [sys.executable, "-m", "wyoming_server", "--uri", "tcp://127.0.0.1:0"]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self._process = subprocess.Popen(  # noqa: ASYNC220 - returns at once
                [*command, *self.args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=self.env,
            )
        deadline = time.monotonic() + self.timeout
        while not (match := READY_RE.search(self.stderr)):
            if self._process.poll() is not None:
                self.returncode = self._process.returncode
                raise RuntimeError(f"Server exited ({self.returncode}):\n{self.stderr[-4000:]}")
            if time.monotonic() > deadline:
                await self.stop()
                raise RuntimeError(f"Server not ready in {self.timeout} s:\n{self.stderr[-4000:]}")
            await asyncio.sleep(0.05)
        self.port = int(match.group(1))

    async def wait_exit(self, timeout: float = 30.0) -> int:
        """Wait for the child to exit by itself; returns its exit code."""
        assert self._process is not None
        self.returncode = await asyncio.to_thread(self._process.wait, timeout)
        return self.returncode

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 15 s; returns the exit code."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 15)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        if process is not None:
            self.returncode = process.returncode
        return self.returncode

    def client(self) -> AsyncTcpClient:
        """A new Wyoming TCP client for this server (use as ``async with``)."""
        return AsyncTcpClient("127.0.0.1", self.port)

    async def __aenter__(self) -> ServerProcess:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
        self._tmpdir.cleanup()


def emulator_env(emulator: object) -> dict[str, str]:
    """``CLOUDFLARE_*`` variables for an emulator (``Emulator`` or ``EmulatorProcess``)."""
    return {
        "CLOUDFLARE_ACCOUNT_ID": str(emulator.account_id),  # type: ignore[attr-defined]
        "CLOUDFLARE_API_TOKEN": str(emulator.api_token),  # type: ignore[attr-defined]
    }


def emulator_args(emulator: object, *extra: str) -> list[str]:
    """``--api-base-url`` of an emulator plus ``extra`` flags."""
    return ["--api-base-url", str(emulator.base_url), *extra]  # type: ignore[attr-defined]


async def read_until(
    client: AsyncTcpClient, stop_types: Iterable[str], timeout: float = EVENT_TIMEOUT
) -> list[Event]:
    """Read events until one whose type is in ``stop_types`` (included in the result).

    Raises:
        AssertionError: the server closed the connection first.
        TimeoutError: nothing arrived for ``timeout`` seconds (the server hangs).
    """
    stops = set(stop_types)
    events: list[Event] = []
    while True:
        event = await asyncio.wait_for(client.read_event(), timeout)
        assert event is not None, f"connection closed after {[e.type for e in events]}"
        events.append(event)
        if event.type in stops:
            return events


def types(events: Iterable[Event]) -> list[str]:
    """The event types, with consecutive ``audio-chunk``s collapsed into one entry."""
    result: list[str] = []
    for event in events:
        if event.type == "audio-chunk" and result and result[-1] == "audio-chunk":
            continue
        result.append(event.type)
    return result


def read_wav(path: Path) -> tuple[bytes, int, int, int]:
    """``(pcm, rate, width, channels)`` of a WAV file."""
    with wave.open(str(path), "rb") as wav:
        return (
            wav.readframes(wav.getnframes()),
            wav.getframerate(),
            wav.getsampwidth(),
            wav.getnchannels(),
        )


def audio_events(
    pcm: bytes, rate: int, width: int, channels: int, samples_per_chunk: int = 1024
) -> list[Event]:
    """``audio-start``, ``audio-chunk``s and ``audio-stop`` for raw PCM."""
    step = samples_per_chunk * width * channels
    chunks = [
        AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[i : i + step]).event()
        for i in range(0, len(pcm), step)
    ]
    return [
        AudioStart(rate=rate, width=width, channels=channels).event(),
        *chunks,
        AudioStop().event(),
    ]


def normalize(text: str) -> str:
    """Lower case, letters/digits/spaces only, single spaces (for transcript comparisons)."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def pcm_of(events: Iterable[Event]) -> tuple[bytes, int]:
    """Concatenated ``audio-chunk`` payloads and the rate of the first ``audio-start``."""
    rate = 0
    pcm = bytearray()
    for event in events:
        if event.type == "audio-start" and not rate:
            rate = int(event.data["rate"])
        elif event.type == "audio-chunk":
            pcm += event.payload or b""
    return bytes(pcm), rate


@asynccontextmanager
async def workers_ai_stand_in(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[int]:
    """An HTTP server on 127.0.0.1 answering every POST with ``handler``; yields its port (for a
    test that records what reaches "Workers AI" or a gateway)."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()
