"""Property-based fuzzing of the Wyoming server with hostile event streams (Hypothesis).

Each example is one connection that sends a generated stream: valid and invalid events in any
order, odd audio formats, huge and empty chunks, headers that lie about their lengths,
malformed JSON, binary garbage; it ends with a clean half-close or an abrupt disconnect. For
every example the server must send only well-formed Wyoming events and close the connection
cleanly once the client is done (never hang, never reset: a reset can destroy the ``error`` the
client has not read yet). After each batch the server must still run, have logged
no traceback, and answer real requests correctly (speech-to-text over REST and the WebSocket,
text-to-speech).

The server talks to the emulator in load mode, so the fuzz traffic costs no inference.
The normal test run makes a short bounded run; the long run (10,000 streams) is::

    FUZZ_EXAMPLES=10000 FUZZ_REPORT=benchmarks/results/fuzz.json \
        python -m pytest -p no:homeassistant tests/wyoming_server/test_server_fuzz.py
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wyoming.asr import Transcribe
from wyoming.info import Describe
from wyoming.tts import Synthesize

from tests.wyoming_server.server_harness import (
    ServerProcess,
    audio_events,
    emulator_args,
    emulator_env,
    read_until,
    read_wav,
)
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.emulator.load_mode import CANNED_TEXT

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
"""Streams in total (CI default: a short run)."""
BATCHES = max(2, min(10, EXAMPLES // 100))
CLOSE_TIMEOUT = 20.0
"""Seconds the server may take to close after the client is done (a hang guard)."""
SPEECH = Path(__file__).resolve().parents[1] / "data" / "living_room_light_en.wav"

# ---------------------------------------------------------------------------- strategies

EVENT_TYPES = [
    "describe", "ping", "transcribe", "audio-start", "audio-chunk", "audio-stop",
    "synthesize", "synthesize-start", "synthesize-chunk", "synthesize-stop",
    "select-program", "info", "error", "transcript", "no-such-event", "",
]  # fmt: skip
MODELS = [
    "@cf/openai/whisper", "whisper-large-v3-turbo", "@cf/deepgram/nova-3", "flux", "nova-2",
    "@cf/deepgram/aura-2-en", "", "../../etc",
]  # fmt: skip
VOICES = ["aura-2-en-luna", "melotts-en", "aura-1-asteria", "nobody", ""]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
odd_values = st.one_of(
    json_scalars,
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
)
rates = st.one_of(st.sampled_from([16000, 8000, 22050, 44100, 48000, 1000, 384000]), odd_values)
widths = st.one_of(st.sampled_from([1, 2, 4]), odd_values)
channels = st.one_of(st.sampled_from([1, 2, 8]), odd_values)


@st.composite
def event_data(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if event_type in ("audio-start", "audio-chunk"):
        data = {"rate": draw(rates), "width": draw(widths), "channels": draw(channels)}
    elif event_type == "transcribe":
        data = {
            "name": draw(st.one_of(st.sampled_from(MODELS), odd_values)),
            "language": draw(st.one_of(st.sampled_from(["en", "de", "xx", "en-US"]), odd_values)),
            "transcript_terms": draw(
                st.one_of(st.lists(st.text(max_size=8), max_size=3), odd_values)
            ),
        }
    elif event_type in ("synthesize", "synthesize-chunk"):
        data = {"text": draw(st.one_of(st.text(max_size=80), odd_values))}
        if event_type == "synthesize":
            name = draw(st.one_of(st.sampled_from(VOICES), odd_values))
            data["voice"] = draw(st.one_of(st.just({"name": name}), odd_values))
    elif event_type == "synthesize-start":
        data = {
            "voice": draw(st.one_of(st.just({"name": draw(st.sampled_from(VOICES))}), odd_values))
        }
    elif event_type == "ping":
        data = {"text": draw(odd_values)}
    if draw(st.booleans()):
        extra = draw(st.dictionaries(st.text(max_size=6), odd_values, max_size=2))
        data = {**extra, **data}
    return data


@st.composite
def well_formed_event(draw: st.DrawFn) -> bytes:
    """An event encoded like wyoming does (data in the header or in a data section)."""
    event_type = draw(st.sampled_from(EVENT_TYPES))
    data = draw(event_data(event_type))
    payload = b""
    if event_type == "audio-chunk" or draw(st.integers(0, 9)) == 0:
        size = draw(st.sampled_from([0, 1, 3, 2048, 32000, 200_000]))
        payload = (
            bytes(draw(st.binary(min_size=min(size, 64), max_size=min(size, 64))))
            * (size // 64 or 1)
            if size
            else b""
        )
    header: dict[str, Any] = {"type": event_type, "version": "1.10.2"}
    body = json.dumps(data).encode()
    if draw(st.booleans()):
        header["data"] = data
        body = b""
    else:
        header["data_length"] = len(body)
    if payload:
        header["payload_length"] = len(payload)
    return json.dumps(header).encode() + b"\n" + body + payload


@st.composite
def lying_event(draw: st.DrawFn) -> bytes:
    """A header whose lengths do not match what follows (or are absurd)."""
    header: dict[str, Any] = {"type": draw(st.sampled_from(EVENT_TYPES))}
    header["data_length"] = draw(
        st.one_of(st.integers(-5, 400), st.sampled_from([2**31, 2**64, 10**30]), odd_values)
    )
    header["payload_length"] = draw(
        st.one_of(st.integers(-5, 5000), st.sampled_from([16 << 20, 2**40]), odd_values)
    )
    follow = draw(st.binary(max_size=300))
    return json.dumps(header).encode() + b"\n" + follow


malformed_header = st.one_of(
    st.binary(max_size=200).map(lambda raw: raw.replace(b"\n", b" ") + b"\n"),
    st.sampled_from([b"\n", b"{}\n", b"[]\n", b"null\n", b'"x"\n', b'{"type": 5}\n', b"{\n"]),
    st.integers(60_000, 80_000).map(lambda n: b'{"type": "describe", "x": "' + b"a" * n + b'"}\n'),
    odd_values.map(lambda v: json.dumps({"type": "audio-chunk", "data": v}).encode() + b"\n"),
)
garbage = st.binary(min_size=1, max_size=500)
part = st.one_of(
    well_formed_event(), well_formed_event(), well_formed_event(),
    lying_event(), malformed_header, garbage,
)  # fmt: skip


@st.composite
def stream(draw: st.DrawFn) -> tuple[list[bytes], str]:
    """Parts of one connection's byte stream, and how it ends."""
    parts = draw(st.lists(part, min_size=0, max_size=12))
    if draw(st.integers(0, 4)) == 0:  # a request in the usual order, with odd parts around it
        parts[len(parts) // 2 : len(parts) // 2] = [draw(well_formed_event()) for _ in range(3)]
    end = draw(st.sampled_from(["half-close", "half-close", "abrupt", "truncate"]))
    return parts, end


# ---------------------------------------------------------------------------- the server


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[tuple[ServerProcess, EmulatorProcess]]:
    emulator = EmulatorProcess(load_mode=True)
    asyncio.run(emulator.start())
    args = emulator_args(emulator, "--event-timeout", "2", "--idle-timeout", "5")
    server = ServerProcess(args, emulator_env(emulator))
    try:
        asyncio.run(server.start())
        yield server, emulator
    finally:
        asyncio.run(server.stop())
        asyncio.run(emulator.stop())


def parse_events(raw: bytes) -> list[dict[str, Any]]:
    """The server's output as events; fails on anything that is not a well-formed event."""
    events = []
    while raw:
        line, newline, raw = raw.partition(b"\n")
        assert newline, f"partial header from the server: {line[:200]!r}"
        header = json.loads(line)
        assert isinstance(header, dict), header
        assert isinstance(header.get("type"), str), header
        data_length = header.get("data_length") or 0
        payload_length = header.get("payload_length") or 0
        assert len(raw) >= data_length + payload_length, "truncated event from the server"
        if data_length:
            data = json.loads(raw[:data_length])
            assert isinstance(data, dict), data
        raw = raw[data_length + payload_length :]
        events.append(header)
    return events


def play(port: int, parts: list[bytes], end: str) -> None:
    """Send one stream on a new connection; check what comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=CLOSE_TIMEOUT) as sock:
        data = b"".join(parts)
        if end == "truncate" and data:
            data = data[: max(1, len(data) // 2)]
        try:
            sock.sendall(data)
        except OSError:
            return  # the server already closed (it refused something): allowed
        if end == "abrupt":
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            return  # close with RST
        sock.shutdown(socket.SHUT_WR)
        received = bytearray()
        try:
            while chunk := sock.recv(1 << 16):
                received += chunk
        except TimeoutError:
            pytest.fail(f"server did not close within {CLOSE_TIMEOUT} s after the stream")
        except ConnectionResetError:
            pytest.fail(f"server reset the connection (its answer may be lost): {received[:300]!r}")
    parse_events(bytes(received))


async def real_requests(server: ServerProcess) -> None:
    """Describe, STT (REST and WebSocket) and TTS, answered correctly."""
    pcm, rate, width, channels = read_wav(SPEECH)
    async with server.client() as client:
        await client.write_event(Describe().event())
        assert (await read_until(client, ["info"], CLOSE_TIMEOUT))[-1].data["asr"]
    for model in ("@cf/openai/whisper", "@cf/deepgram/nova-3"):
        async with server.client() as client:
            await client.write_event(Transcribe(name=model, language="en").event())
            for event in audio_events(pcm, rate, width, channels):
                await client.write_event(event)
            events = await read_until(client, ["transcript"], CLOSE_TIMEOUT)
        assert events[-1].data["text"] == CANNED_TEXT, events
    async with server.client() as client:
        await client.write_event(Synthesize(text="Hello there.").event())
        events = await read_until(client, ["audio-stop"], CLOSE_TIMEOUT)
    assert [e.type for e in events if e.type == "error"] == []
    assert any(e.type == "audio-chunk" and e.payload for e in events)


def test_hostile_streams_never_break_the_server(
    fuzz_server: tuple[ServerProcess, EmulatorProcess],
) -> None:
    server, _ = fuzz_server

    @settings(
        max_examples=EXAMPLES // BATCHES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(stream())
    def one_stream(generated: tuple[list[bytes], str]) -> None:
        play(server.port, *generated)

    started = time.monotonic()
    for _ in range(BATCHES):
        one_stream()
        asyncio.run(real_requests(server))
        assert "Traceback" not in server.stderr, server.stderr[-5000:]
    assert server._process is not None and server._process.poll() is None
    if report := os.environ.get("FUZZ_REPORT"):
        status = Path(f"/proc/{server.pid}/status").read_text().splitlines()
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
        result = {
            "streams": BATCHES * (EXAMPLES // BATCHES),
            "batches": BATCHES,
            "seconds": round(time.monotonic() - started, 1),
            "server_alive": True,
            "real_requests_after_each_batch": "ok",
            "server_peak_rss_mib": round(int(peak) / 1024, 1),
        }
        Path(report).write_text(json.dumps(result, indent=2) + "\n")
