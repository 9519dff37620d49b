"""Run the benchmarks: ``python -m benchmarks [--quick] [--output FILE]`` (or ``script/benchmark``).

Writes one JSON document (default ``benchmarks/results/latest.json``) and prints a summary.
They measure; they do not gate CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from pathlib import Path
from typing import Any

from . import overhead, stt, tts, vocabulary
from .harness import REPO, emulator


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "latest.json"
    )
    parser.add_argument("--only", choices=["stt", "tts", "overhead", "vocabulary"], action="append")
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
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    calls = 20 if args.quick else 200
    only = set(args.only or ["stt", "tts", "overhead", "vocabulary"])
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "python": platform.python_version(),
            "cpus": __import__("os").cpu_count(),
            "platform": platform.platform(),
        },
    }
    async with emulator() as emu:
        if "stt" in only:
            print("STT wait after audio-stop")
            report["stt"] = await stt.run(emu, repeats, args.model_latency_ms)
        if "tts" in only:
            print("TTS time to first audio")
            report["tts"] = await tts.run(emu, max(repeats, 5), args.tts_model_latency_ms)
        if "overhead" in only:
            print("Server overhead")
            report["overhead"] = await overhead.run(emu, calls, args.overhead_model_latency_ms)
        if "vocabulary" in only:
            print("Vocabulary: names heard without and with the home's vocabulary")
            report["vocabulary"] = await vocabulary.run(emu)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.only and args.output.exists():  # a partial run updates the previous report
        report = {**json.loads(args.output.read_text()), **report}
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    asyncio.run(main())
