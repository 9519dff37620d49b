"""The failover part of the doctor report: can the fallback Wyoming servers be reached, and
with which breaker settings would the server run.

A fallback is probed with ``describe`` and must answer ``info`` (the Wyoming "Event Flow",
https://github.com/OHF-Voice/wyoming): what Home Assistant does before it uses a server.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any, TextIO

from wyoming.client import AsyncClient
from wyoming.info import Describe, Info

PROBE_TIMEOUT = 3.0
"""Seconds to connect and get ``info`` (the voice path's connect budget)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's failover flags, so the same ones can be checked."""
    group = parser.add_argument_group("failover (the server's flags, to check them)")
    group.add_argument("--fallback-stt", metavar="URI", help="Wyoming STT fallback to probe")
    group.add_argument("--fallback-tts", metavar="URI", help="Wyoming TTS fallback to probe")
    group.add_argument("--breaker-failures", type=int, default=3)
    group.add_argument("--breaker-window", type=float, default=60.0)
    group.add_argument("--breaker-open", type=float, default=30.0)


async def probe(uri: str, task: str, timeout: float = PROBE_TIMEOUT) -> dict[str, Any]:
    """``describe`` → ``info``: ``{"uri", "task", "reachable", "ms", "programs"|"error"}``;
    ``programs`` are the names of the ``asr`` (task ``stt``) or ``tts`` programs."""
    started = time.monotonic()
    result: dict[str, Any] = {"uri": uri, "task": task, "reachable": False}
    try:
        async with asyncio.timeout(timeout), AsyncClient.from_uri(uri) as client:
            await client.write_event(Describe().event())
            while (event := await client.read_event()) is not None:
                if Info.is_type(event.type):
                    info = Info.from_event(event)
                    programs = info.asr if task == "stt" else info.tts
                    result["programs"] = [p.name for p in programs]
                    result["reachable"] = bool(programs)
                    if not programs:
                        result["error"] = f"no {task} program in its info"
                    break
            else:
                result["error"] = "closed the connection without info"
    except TimeoutError:
        result["error"] = f"no info within {timeout:g} s"
    except (OSError, ValueError) as err:
        result["error"] = str(err) or type(err).__name__
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


async def failover_report(args: argparse.Namespace, out: TextIO) -> dict[str, Any] | None:
    """Probe the fallbacks named in ``args`` and print one line each (``None``: none named)."""
    targets = [(u, t) for u, t in ((args.fallback_stt, "stt"), (args.fallback_tts, "tts")) if u]
    if not targets:
        return None
    results = [await probe(uri, task) for uri, task in targets]
    breaker = {
        "failure_threshold": args.breaker_failures,
        "window_s": args.breaker_window,
        "open_s": args.breaker_open,
    }
    out.write("\nFailover:\n")
    for result in results:
        state = (
            f"reachable ({', '.join(result['programs'])}, {result['ms']:.0f} ms)"
            if result["reachable"]
            else f"NOT reachable: {result.get('error')}"
        )
        out.write(f"  fallback {result['task']} {result['uri']}: {state}\n")
    out.write(
        f"  breaker: open after {breaker['failure_threshold']} failure(s) in "
        f"{breaker['window_s']:g} s, probe after {breaker['open_s']:g} s\n"
    )
    return {"fallbacks": results, "breaker": breaker}
