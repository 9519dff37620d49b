"""Fault matrix: every Workers AI fault, for STT and TTS over REST and WebSocket, via Wyoming.

``python -m benchmarks.fault_matrix [--output benchmarks/results/fault_matrix.json]`` writes the
JSON cells and a Markdown table next to it (``.md``). For each cell it records what the Wyoming
client got (events, error code, transcript or audio), how long it took, how many model calls
reached Workers AI (the emulator counts them) and whether the next request, without the fault,
works. The emulator runs in load mode (no inference), so the times are the server's and the
client's behaviour, not a model's.

To add a fault kind: add a :class:`Fault` to :data:`FAULTS` with the emulator fault settings
(``EmulatorProcess.set_faults`` keywords) that produce it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.tts import Synthesize, SynthesizeVoice

from wyoming_server.emulator import EmulatorProcess

from .harness import REPO, free_port, speech_pcm16k, wyoming_server

VOICE_BUDGET_S = 10.0
"""Seconds a voice request may take, retries included, before the user gives up."""
BUDGET_SLACK_S = 0.25
"""Seconds past the deadline a cell may take: the error and terminal events are written and
read after the deadline fires."""
WAIT_LIMIT_S = 150.0
"""Seconds the harness waits for the terminal event before it records a hang."""
QUOTA = "You have used up your daily free allocation of 10,000 neurons. Please upgrade."


@dataclass(frozen=True)
class Fault:
    """One fault kind: emulator fault settings, where it comes from, what the user should get.

    ``expect`` is ``"success"`` (the client should recover, e.g. one 3040 then success) or
    ``"error"`` (an ``error`` event plus the terminal event). ``transports`` limits the cells
    (e.g. a dropped WebSocket has no REST cell).
    """

    name: str
    source: str
    settings: dict[str, Any]
    expect: str = "error"
    transports: tuple[str, ...] = ("rest", "websocket")
    refused: bool = False
    """Workers AI unreachable (connection refused) instead of emulator settings."""
    retryable: bool = False
    """Whether a client may retry it (429/3040, 3001, 7009, 5xx, 408: the retryable errors of
    https://developers.cloudflare.com/workers-ai/platform/errors/)."""


def _fail(status: int, code: int, message: str, count: int = 50) -> dict[str, Any]:
    return {"fail_next": count, "status": status, "code": code, "message": message}


FAULTS: list[Fault] = [
    Fault("3040 once, then success", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(429, 3040, "Capacity temporarily exceeded, please try again.", 1), "success", retryable=True),
    Fault("3040 capacity, every attempt", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(429, 3040, "Capacity temporarily exceeded, please try again."), retryable=True),
    Fault("3001 internal error, every attempt", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(500, 3001, "Internal server error"), retryable=True),
    Fault("7009 upstream unavailable", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(503, 7009, "Upstream service unavailable"), retryable=True),
    Fault("3007 timeout (408)", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(408, 3007, "Request timeout"), retryable=True),
    Fault("3008 aborted (408)", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(408, 3008, "Request was aborted"), retryable=True),
    Fault("10000 authentication", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(401, 10000, "Authentication error")),
    Fault("4006 daily free allocation", "https://developers.cloudflare.com/workers-ai/platform/pricing/", _fail(429, 4006, QUOTA)),
    Fault("3036 account limited", "https://developers.cloudflare.com/workers-ai/platform/errors/, https://developers.cloudflare.com/workers-ai/platform/pricing/", _fail(429, 3036, QUOTA)),
    Fault("5035 Workers Paid plan required", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(403, 5035, "This model requires a Workers Paid plan.")),
    Fault("3023 account blocked", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(403, 3023, "Service unavailable for account")),
    Fault("5018 model not allowed", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(403, 5018, "The account is not allowed to access this model")),
    Fault("5007 no such model", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(400, 5007, "No such model")),
    Fault("7000 unknown model", "observed live on Workers AI", _fail(400, 7000, "No such model")),
    Fault("3042 invalid model ID", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(404, 3042, "The model name is invalid")),
    Fault("5006 bad input", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(400, 5006, "AiError: Bad input: Error: oneOf at '/' not met")),
    Fault("3010 invalid input", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(400, 3010, "Invalid or incomplete input for the model")),
    Fault("3006 request too large", "https://developers.cloudflare.com/workers-ai/platform/errors/", _fail(413, 3006, "Request is too large")),
    Fault("8007 empty text", "observed live on Workers AI", _fail(400, 8007, "Invalid input")),
    Fault("reply never comes (5 min)", "timeouts", {"latency_ms": 300_000}, retryable=True),
    Fault("model answers after 45 s", "timeouts", {"model_latency_ms": 45_000}, retryable=True),
    Fault("WebSocket dropped mid-stream", "https://developers.cloudflare.com/workers-ai/models/nova-3/", {"ws_drop_after_messages": 1}, transports=("websocket",), retryable=True),
    Fault("connection refused", "network", {}, refused=True, retryable=True),
]  # fmt: skip


@dataclass
class Cell:
    """What one request met under one fault."""

    fault: str
    source: str
    task: str
    transport: str
    events: list[str] = field(default_factory=list)
    error_code: str | None = None
    terminal: bool = False
    result: str = ""
    seconds: float = 0.0
    backend_requests: int | None = None
    next_request_ok: bool | None = None
    verdict: str = ""


SPEECH = speech_pcm16k("living_room_light_en.wav")
STT_MODELS = {"rest": "@cf/openai/whisper", "websocket": "@cf/deepgram/nova-3"}
TTS_VOICE = "aura-2-en-luna"


def _collapse(types: list[str]) -> list[str]:
    out: list[str] = []
    for kind in types:
        if not (out and out[-1] == kind == "audio-chunk"):
            out.append(kind)
    return out


async def _request(port: int, task: str, transport: str) -> tuple[list[Event], float, bool]:
    """One request; returns (events, seconds, got its terminal event)."""
    terminal = "transcript-stop" if task == "stt" else "audio-stop"
    events: list[Event] = []
    started = time.monotonic()
    async with AsyncTcpClient("127.0.0.1", port) as client:
        if task == "stt":
            await client.write_event(Transcribe(name=STT_MODELS[transport], language="en").event())
            await client.write_event(AudioStart(16000, 2, 1).event())
            for offset in range(0, len(SPEECH), 3200):
                await client.write_event(
                    AudioChunk(16000, 2, 1, SPEECH[offset : offset + 3200]).event()
                )
            await client.write_event(AudioStop().event())
        else:
            voice = SynthesizeVoice(name=TTS_VOICE)
            await client.write_event(
                Synthesize(text="Hello there. How are you?", voice=voice).event()
            )
        try:
            async with asyncio.timeout(WAIT_LIMIT_S):
                while (event := await client.read_event()) is not None:
                    events.append(event)
                    if event.type == terminal:
                        return events, time.monotonic() - started, True
        except TimeoutError:
            pass
    return events, time.monotonic() - started, False


def _result(task: str, events: list[Event]) -> str:
    if task == "stt":
        texts = [str(e.data.get("text", "")) for e in events if e.type == "transcript"]
        return f"transcript {texts[-1]!r}" if texts else "no transcript"
    samples = sum(len(e.payload or b"") for e in events if e.type == "audio-chunk") // 2
    rates = [int(e.data["rate"]) for e in events if e.type == "audio-start"]
    return f"{samples / rates[0]:.1f} s of audio" if rates else "no audio"


def _ok(task: str, events: list[Event], terminal: bool) -> bool:
    if not terminal or any(e.type == "error" for e in events):
        return False
    return (
        ("''" not in _result(task, events))
        if task == "stt"
        else "no audio" not in _result(task, events)
    )


def _verdict(fault: Fault, cell: Cell, ok: bool) -> str:
    problems = []
    if not cell.terminal:
        problems.append("no terminal event (client hangs)")
    if fault.expect == "success" and not ok:
        problems.append("not recovered")
    if fault.expect == "error" and cell.error_code is None:
        problems.append("no error event")
    # Calls one failing request may make without a retry: 1; TTS REST pipelines its 2 sentences;
    # a refused WebSocket handshake is read once more as a plain request (aiohttp hides the
    # refusal's JSON body, which classifies it: +1); a refused aura WebSocket then falls back
    # to REST by design (2 sentences).
    allowed = {("stt", "websocket"): 2, ("tts", "rest"): 2, ("tts", "websocket"): 4}.get(
        (cell.task, cell.transport), 1
    )
    if not fault.retryable and (cell.backend_requests or 0) > allowed:
        problems.append(f"non-retryable error retried ({cell.backend_requests} calls)")
    if cell.seconds > VOICE_BUDGET_S + BUDGET_SLACK_S:
        problems.append(f"over the {VOICE_BUDGET_S:g} s voice budget")
    if cell.next_request_ok is False:
        problems.append("next request fails")
    return "ok" if not problems else "; ".join(problems)


async def _cell(emu: EmulatorProcess, port: int, fault: Fault, task: str, transport: str) -> Cell:
    cell = Cell(fault.name, fault.source, task, transport)
    await emu.reset_faults()
    await emu.request_counts(reset=True)
    if fault.settings:
        await emu.set_faults(**fault.settings)
    events, cell.seconds, cell.terminal = await _request(port, task, transport)
    await emu.reset_faults()
    counts = await emu.request_counts(reset=True)
    cell.backend_requests = (
        None if fault.refused else sum(sum(by_model.values()) for by_model in counts.values())
    )
    cell.events = _collapse([e.type for e in events])
    errors = [e for e in events if e.type == "error"]
    cell.error_code = str(errors[0].data.get("code")) if errors else None
    cell.result = _result(task, events)
    cell.seconds = round(cell.seconds, 2)
    ok = _ok(task, events, cell.terminal)
    if not fault.refused:
        after, _, done = await _request(port, task, transport)
        cell.next_request_ok = _ok(task, after, done)
    cell.verdict = _verdict(fault, cell, ok)
    return cell


async def _run_faults(
    emu: EmulatorProcess, faults: list[Fault], server_args: list[str]
) -> list[Cell]:
    """Every cell of ``faults`` against two servers started with ``server_args``: one for the
    WebSocket and STT cells, one with ``--no-tts-streaming`` for the TTS REST cells."""
    cells: list[Cell] = []
    async with (
        wyoming_server(emu, *server_args) as port,
        wyoming_server(emu, "--no-tts-streaming", *server_args) as rest_tts_port,
    ):
        for fault in faults:
            for task in ("stt", "tts"):
                for transport in fault.transports:
                    target = rest_tts_port if (task, transport) == ("tts", "rest") else port
                    cell = await _cell(emu, target, fault, task, transport)
                    print(
                        f"  {fault.name:36} {task} {transport:9} {cell.seconds:6.2f} s  {cell.verdict}"
                    )
                    cells.append(cell)
    return cells


async def run(faults: list[Fault], server_args: list[str]) -> list[Cell]:
    # Every request makes its own Workers AI calls, so each injected fault meets the request
    # it is meant for (a spare aura WebSocket opened earlier would skip the handshake).
    server_args = ["--no-spare-websockets", *server_args]
    async with EmulatorProcess(load_mode=True) as emu:
        cells = await _run_faults(emu, [f for f in faults if not f.refused], server_args)
        if refused := [f for f in faults if f.refused]:
            dead = f"http://127.0.0.1:{free_port()}/client/v4"  # nothing listens there
            cells += await _run_faults(emu, refused, ["--api-base-url", dead, *server_args])
    return cells


def markdown(cells: list[Cell], server_args: list[str]) -> str:
    lines = [
        f"Server flags: `{' '.join(server_args) or '(defaults)'}`; emulator in load mode. "
        f"Budget {VOICE_BUDGET_S:g} s. Backend = model calls that reached Workers AI "
        "(handshakes and REST calls, retries included).",
        "",
        "| Fault | Source | Request | User gets | Error code | Time (s) | Backend calls | Next request | Verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        gets = " → ".join(c.events) or "nothing"
        nxt = {True: "works", False: "FAILS", None: "n/a"}[c.next_request_ok]
        backend = "n/a" if c.backend_requests is None else str(c.backend_requests)
        lines.append(
            f"| {c.fault} | {c.source} | {c.task.upper()} {c.transport} | {gets}; {c.result} | "
            f"{c.error_code or '-'} | {c.seconds:.2f} | {backend} | {nxt} | {c.verdict} |"
        )
    return "\n".join(lines) + "\n"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "fault_matrix.json"
    )
    parser.add_argument("--only", action="append", help="run only faults whose name contains this")
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help="extra flag for the Wyoming server (repeatable)",
    )
    args = parser.parse_args()
    faults = [f for f in FAULTS if not args.only or any(o in f.name for o in args.only)]
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    cells = await run(faults, args.server_arg)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "started": started,
        "server_args": args.server_arg,
        "voice_budget_s": VOICE_BUDGET_S,
        "cells": [asdict(c) for c in cells],
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    args.output.with_suffix(".md").write_text(markdown(cells, args.server_arg))
    print(f"wrote {args.output} and {args.output.with_suffix('.md')}")


if __name__ == "__main__":
    asyncio.run(main())
