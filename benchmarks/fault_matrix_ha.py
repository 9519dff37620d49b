"""Fault matrix through Home Assistant: each Workers AI fault, STT/TTS, REST/WebSocket.

``python -m benchmarks.fault_matrix_ha [--output benchmarks/results/fault_matrix_ha.json]``
(with the Python 3.14 environment that has Home Assistant) runs every cell of
``tests/components/test_fault_matrix_ha.py`` (the test run takes a subset) and writes the JSON
cells and a Markdown table next to it (``.md``).

The faults are :data:`benchmarks.fault_matrix.FAULTS`, the same as through the Wyoming server.
Each cell goes through Home Assistant's public paths: speech-to-text through the ``stt``
entity's ``async_process_audio_stream`` (what the Assist pipeline calls), text-to-speech
through the ``tts`` media source (what a media player fetches for ``tts.speak``). REST is
Whisper (STT) and MeloTTS (TTS), WebSocket is nova-3 (STT) and aura-2 (TTS). The emulator runs
in load mode (no inference). For each cell: what the user gets (a transcript or audio, a
``SpeechResult`` with state ERROR, a Home Assistant error and its translation key, a repair
issue, a re-authentication flow), how long it took, how many model calls reached Workers AI,
and whether the next request, without the fault, works.

This module has no Home Assistant import (mypy checks ``benchmarks`` as Python 3.11): it holds
what a cell is, what each fault should give the user, and the report; the test module drives
Home Assistant.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from wyoming_server.workers_ai.errors import (
    AccountNotAllowedError,
    AuthenticationError,
    PaidPlanRequiredError,
    QuotaExceededError,
    error_from_envelope,
)

from .fault_matrix import FAULTS, VOICE_BUDGET_S, Fault

REPO = Path(__file__).resolve().parents[1]
TEST_MODULE = "tests/components/test_fault_matrix_ha.py"
REPORT_ENV = "FAULT_MATRIX_HA_REPORT"
"""Environment variable: a JSON-lines file the test module appends each cell to."""
FULL_ENV = "FAULT_MATRIX_HA_FULL"
"""Environment variable: ``1`` makes the test module run every cell, not the CI subset."""
ONLY_ENV = "FAULT_MATRIX_HA_ONLY"
"""Environment variable: fault name fragments, one a line; only faults containing one run."""

BUDGET_SLACK_S = 0.5
"""Seconds past the 10 s deadline a cell may take: Home Assistant hands the error on after the
deadline fires (the STT result, the TTS media source's error)."""

TASKS = ("stt", "tts")
CI_FAULTS = (
    "3040 once, then success",
    "3001 internal error, every attempt",
    "10000 authentication",
    "4006 daily free allocation",
    "5035 Workers Paid plan required",
    "5007 no such model",
    "reply never comes (5 min)",
    "model answers after 45 s",
    "WebSocket dropped mid-stream",
    "connection refused",
)
"""The faults the normal test run takes (one of each kind of outcome: recovery, retried server
error, re-authentication, repair issue, paid plan, invalid input, no reply, a model that
hangs after the handshake, a dropped stream, an unreachable API); ``FAULT_MATRIX_HA_FULL=1`` or the benchmark runs them all."""

ALLOWED_CALLS = {("stt", "rest"): 1, ("stt", "websocket"): 2, ("tts", "rest"): 1}
"""Model calls one failing request may make without retrying. A refused WebSocket handshake
is read once more as a plain request (aiohttp hides the refusal's JSON body, which says what
went wrong): 2. The aura WebSocket: 2 for that, or 2 sentences per request (the first sentence
alone, then the rest)."""
ALLOWED_CALLS_DEFAULT = 2


@dataclass(frozen=True)
class Expected:
    """What a fault should give the user through Home Assistant."""

    success: bool
    reauth: bool = False
    """A re-authentication flow starts (the token was rejected)."""
    repair_issue: bool = False
    """The ``quota_exceeded`` repair issue is raised."""
    error_key: str | None = None
    """Translation key of the TTS error (``request_failed``, ``quota_exceeded``,
    ``paid_plan_required``, ``account_not_allowed``); STT has only ``SpeechResult`` ERROR to
    say it."""


def expected(fault: Fault) -> Expected:
    """What the user should get for ``fault``, from the client's error classification."""
    if fault.expect == "success":
        return Expected(success=True)
    settings = fault.settings
    if "code" not in settings:  # timeouts, a dropped stream, connection refused
        return Expected(success=False, error_key="request_failed")
    err = error_from_envelope(
        int(settings["status"]),
        {"success": False, "errors": [{"code": settings["code"], "message": settings["message"]}]},
    )
    if isinstance(err, QuotaExceededError):
        return Expected(success=False, repair_issue=True, error_key="quota_exceeded")
    if isinstance(err, PaidPlanRequiredError):
        return Expected(success=False, error_key="paid_plan_required")
    if isinstance(err, AccountNotAllowedError):
        return Expected(success=False, error_key="account_not_allowed")
    return Expected(
        success=False,
        reauth=isinstance(err, AuthenticationError),
        error_key="request_failed",
    )


@dataclass
class HACell:
    """What one request through Home Assistant met under one fault."""

    fault: str
    source: str
    task: str
    transport: str
    model: str
    user_gets: str = ""
    """``transcript '...'``, ``N s of audio``, ``SpeechResult ERROR`` or
    ``HomeAssistantError (<translation key>)``."""
    success: bool = False
    error_key: str | None = None
    repair_issue: bool = False
    reauth: bool = False
    seconds: float = 0.0
    backend_requests: int | None = None
    """Model calls that reached the emulator (None: Workers AI was unreachable)."""
    next_request_ok: bool | None = None
    repair_issue_cleared: bool | None = None
    """Whether the next successful request removed the repair issue (None: none was raised)."""
    verdict: str = ""


def problems(fault: Fault, cell: HACell) -> list[str]:
    """What is wrong with ``cell`` (empty: the user got what ``fault`` should give)."""
    want = expected(fault)
    found: list[str] = []
    if want.success and not cell.success:
        found.append("not recovered")
    if not want.success and cell.success:
        found.append("fault not reported")
    if cell.task == "tts" and not want.success and cell.error_key != want.error_key:
        found.append(f"error {cell.error_key!r} instead of {want.error_key!r}")
    if cell.reauth != want.reauth:
        found.append("re-authentication " + ("not started" if want.reauth else "started"))
    if cell.repair_issue != want.repair_issue:
        found.append("repair issue " + ("missing" if want.repair_issue else "raised"))
    allowed = ALLOWED_CALLS.get((cell.task, cell.transport), ALLOWED_CALLS_DEFAULT)
    if not fault.retryable and (cell.backend_requests or 0) > allowed:
        found.append(f"non-retryable error retried ({cell.backend_requests} calls)")
    if cell.seconds > VOICE_BUDGET_S + BUDGET_SLACK_S:
        found.append(f"over the {VOICE_BUDGET_S:g} s voice budget")
    if cell.next_request_ok is not True:
        found.append("next request fails")
    if cell.repair_issue_cleared is False:
        found.append("repair issue not cleared by the next success")
    return found


def fault_named(name: str) -> Fault:
    """The :data:`FAULTS` entry called ``name``."""
    return next(f for f in FAULTS if f.name == name)


def selected_faults(environ: Mapping[str, str] = os.environ) -> list[Fault]:
    """The faults a test run takes: the CI subset, or every one with ``FAULT_MATRIX_HA_FULL=1``,
    narrowed by ``FAULT_MATRIX_HA_ONLY``."""
    faults = FAULTS if environ.get(FULL_ENV) == "1" else [fault_named(n) for n in CI_FAULTS]
    if only := [o for o in environ.get(ONLY_ENV, "").splitlines() if o]:
        faults = [f for f in faults if any(o in f.name for o in only)]
    return faults


def cells_of(faults: list[Fault]) -> list[tuple[Fault, str, str]]:
    """(fault, task, transport) of every cell of ``faults``."""
    return [(f, task, transport) for f in faults for task in TASKS for transport in f.transports]


def markdown(cells: list[HACell]) -> str:
    """The Markdown table of ``cells`` (one line per cell)."""
    lines = [
        f"Emulator in load mode; the component's voice budget ({VOICE_BUDGET_S:g} s). Backend = "
        "model calls that reached Workers AI (handshakes and REST calls, retries included).",
        "",
        "| Fault | Source | Request | User gets | Repair issue | Reauth | Time (s) "
        "| Backend calls | Next request | Verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        nxt = {True: "works", False: "FAILS", None: "n/a"}[c.next_request_ok]
        backend = "n/a" if c.backend_requests is None else str(c.backend_requests)
        issue = "raised" if c.repair_issue else "-"
        if c.repair_issue_cleared:
            issue += ", cleared by the next success"
        lines.append(
            f"| {c.fault} | {c.source} | {c.task.upper()} {c.transport} ({c.model}) "
            f"| {c.user_gets} | {issue} | {'started' if c.reauth else '-'} | {c.seconds:.2f} "
            f"| {backend} | {nxt} | {c.verdict} |"
        )
    return "\n".join(lines) + "\n"


def summary_table(cells: list[HACell]) -> str:
    """One line per fault, one column per request: what the user gets, time, model calls."""
    columns = [(t, tr) for t in TASKS for tr in ("rest", "websocket")]
    lines = [
        "| Fault | STT REST | STT WebSocket | TTS REST | TTS WebSocket |",
        "|---|---|---|---|---|",
    ]
    by_fault: dict[str, dict[tuple[str, str], HACell]] = {}
    for c in cells:
        by_fault.setdefault(c.fault, {})[(c.task, c.transport)] = c
    for name, row in by_fault.items():
        parts = []
        for column in columns:
            if column not in row:
                parts.append("n/a")
                continue
            c = row[column]
            gets = "success" if c.success else (c.error_key or "error result")
            if c.reauth:
                gets += " + reauth"
            if c.repair_issue:
                gets += " + repair issue"
            n = c.backend_requests
            calls = "" if n is None else f", {n} call{'s' if n != 1 else ''}"
            mark = "" if c.verdict == "ok" else " ⚠"
            parts.append(f"{gets}, {c.seconds:.1f} s{calls}{mark}")
        lines.append(f"| {name} | " + " | ".join(parts) + " |")
    return "\n".join(lines) + "\n"


def write_report(cells: list[HACell], output: Path, started: str) -> None:
    """``output`` (JSON) and its ``.md`` (summary and per-cell tables)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "started": started,
        "voice_budget_s": VOICE_BUDGET_S,
        "budget_slack_s": BUDGET_SLACK_S,
        "cells": [asdict(c) for c in cells],
    }
    output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    output.with_suffix(".md").write_text(
        summary_table(cells) + "\n" + markdown(cells), encoding="utf-8"
    )


def main() -> int:
    """Run every cell with pytest and write the report; exit status is pytest's."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "fault_matrix_ha.json"
    )
    parser.add_argument("--only", action="append", help="run only faults whose name contains this")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    lines = args.output.with_suffix(".jsonl")
    lines.parent.mkdir(parents=True, exist_ok=True)
    lines.unlink(missing_ok=True)
    env = {**os.environ, REPORT_ENV: str(lines), FULL_ENV: "1"}
    if args.only:
        env[ONLY_ENV] = "\n".join(args.only)
    command = [sys.executable, "-m", "pytest", TEST_MODULE, "-q", "-p", "no:cacheprovider"]
    status = subprocess.run(command, env=env, cwd=REPO, check=False).returncode
    if not lines.exists():
        print("no cell ran", file=sys.stderr)
        return status or 1
    cells = [HACell(**json.loads(line)) for line in lines.read_text().splitlines() if line]
    lines.unlink()
    order = {(f.name, t, tr): i for i, (f, t, tr) in enumerate(cells_of(FAULTS))}
    cells.sort(key=lambda c: order.get((c.fault, c.task, c.transport), len(order)))
    write_report(cells, args.output, started)
    print(f"wrote {args.output} and {args.output.with_suffix('.md')}")
    return status


if __name__ == "__main__":
    sys.exit(main())
