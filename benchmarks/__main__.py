"""Run the benchmarks: ``python -m benchmarks [--quick] [--output FILE]`` (or ``script/benchmark``).

``python -m benchmarks ha-pipeline [--runs N] [--rtt-ms MS]``: latency in a real Home Assistant
Assist pipeline instead (:mod:`benchmarks.ha_pipeline`, ``benchmarks/results/ha-pipeline.json``).

Writes one JSON document (default ``benchmarks/results/latest.json``) and prints a summary.
They measure; they do not gate CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from . import ha_pipeline, network, overhead, startup, stt, tts, vocabulary
from .harness import REPO, emulator


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "latest.json"
    )
    parser.add_argument(
        "--only", choices=["stt", "tts", "overhead", "startup", "vocabulary"], action="append"
    )
    parser.add_argument(
        "--model-latency-ms",
        type=float,
        default=300.0,
        help="emulator inference time floor per call (ms) for the STT run",
    )
    parser.add_argument(
        "--tts-model-latency-ms",
        type=float,
        default=0.0,
        help="inference time floor for the TTS run (ms); 0 keeps Piper's own time, which grows "
        "with the text like a real TTS model's",
    )
    parser.add_argument(
        "--overhead-model-latency-ms",
        type=float,
        default=700.0,
        help="inference time floor for the overhead run (ms): above the slowest real "
        "inference, so that the backend takes the same time for both paths",
    )
    parser.add_argument(
        "--rtt-ms",
        type=float,
        nargs="+",
        default=[0.0, 60.0],
        help="network round-trip times to run STT and TTS at (emulator rtt_ms fault), first one "
        "the baseline (default: 0 60)",
    )
    parser.add_argument(
        "--stt-lengths",
        nargs="+",
        choices=["2s", "15s"],
        default=["2s", "15s"],
        help="utterances for the STT run (default both)",
    )
    parser.add_argument("--repeats", type=int, help="repeats per STT/TTS measure (overrides)")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    calls = 20 if args.quick else 200
    only = set(args.only or ["stt", "tts", "overhead", "startup", "vocabulary"])
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "python": platform.python_version(),
            "cpus": __import__("os").cpu_count(),
            "platform": platform.platform(),
        },
    }
    runs: dict[float, dict[str, Any]] = {}
    async with emulator() as emu:
        for index, rtt in enumerate(args.rtt_ms):
            run: dict[str, Any] = {}
            if "stt" in only:
                print(f"STT wait after audio-stop (RTT {rtt:g} ms)")
                run["stt"] = await stt.run(
                    emu,
                    repeats,
                    args.model_latency_ms,
                    rtt,
                    uploads=index == 0 and not args.repeats,
                    lengths=tuple(args.stt_lengths),
                )
            if "tts" in only:
                print(f"TTS time to first audio (RTT {rtt:g} ms)")
                run["tts"] = await tts.run(emu, max(repeats, 5), args.tts_model_latency_ms, rtt)
            runs[rtt] = run
        report.update(runs[args.rtt_ms[0]])  # the baseline, where it always was
        if len(runs) > 1 and only & {"stt", "tts"}:  # else --only vocabulary would empty it
            rows = network.compare(runs)
            report["network"] = {
                "rtt_ms": args.rtt_ms,
                "runs": {f"{rtt:g}": run for rtt, run in runs.items()},
                "critical_path": rows,
            }
            print(network.markdown(rows, args.rtt_ms))
        if "overhead" in only:
            print("Server overhead")
            report["overhead"] = await overhead.run(emu, calls, args.overhead_model_latency_ms)
        if "startup" in only:
            print("Start-up and memory (Raspberry Pi targets)")
            report["startup"] = await startup.run(emu, repeats + 2)
        if "vocabulary" in only:
            print("Vocabulary: names heard without and with the home's vocabulary")
            report["vocabulary"] = await vocabulary.run(emu)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.only and args.output.exists():  # a partial run updates the previous report
        report = {**json.loads(args.output.read_text()), **report}
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["ha-pipeline"]:
        asyncio.run(ha_pipeline.main(sys.argv[2:]))
    else:
        asyncio.run(main())
