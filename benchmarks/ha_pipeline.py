"""Latency in a real Home Assistant Assist pipeline, driven as a satellite drives it.

``python -m benchmarks ha-pipeline [--runs 3] [--rtt-ms 60]`` starts the emulator and a real
Home Assistant 2026.10 with this component (:mod:`.ha_instance`), adds one speech-to-text
service per model, one pipeline per service (Home Assistant's agent, the aura-2-en service's
voice) and runs each pipeline over the WebSocket API (``assist_pipeline/run``, ``stt`` ->
``tts``) with a recording that ends in silence, sent in 20 ms binary chunks at real time with
Home Assistant's VAD on, as a satellite does. Per model:

- end of speech in the audio -> ``stt-end`` (and -> ``stt-vad-end`` where Home Assistant's VAD
  ends the stream; flux ends the turn itself);
- the agent's reply text known (``intent-end``; Home Assistant's agent does not stream) -> first
  byte of TTS audio from the pipeline's ``tts_output`` URL, fetched at once (MP3, Home
  Assistant's default for WebSocket runs, converted from aura's WAV by ffmpeg);
- the same reply from the TTS entity in its own format (WAV, no conversion):
  ``tts_get_url`` -> first audio byte;
- the first-sentence synthesis alone: the reply over one open aura WebSocket straight to the
  emulator at 0 ms RTT, text sent -> first audio, right after each run.

The emulator's ``rtt_ms`` fault puts a home-to-Cloudflare round trip on every call. Home
Assistant's TTS cache is cleared before each run. Results: ``benchmarks/results/ha-pipeline.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import aiohttp

from wyoming_server.emulator import EmulatorProcess
from wyoming_server.emulator.listen_v2 import TICK
from wyoming_server.workers_ai import WorkersAIClient, catalog

from .ha_instance import HASS_PYTHON, HomeAssistant, add_integration, home_assistant
from .ha_measures import (
    RATE,
    RunClock,
    audio_offset,
    emulator_flux_floor,
    recording_with_silence,
    speech_end_sample,
    stats,
)
from .harness import REPO, speech_pcm16k, trim_silence

RECORDING = "living_room_light_en.wav"
TRAILING_SILENCE_S = 4.0
CHUNK_MS = 20
MODELS = (
    catalog.FLUX,
    catalog.NOVA_3,
    catalog.WHISPER_LARGE_V3_TURBO,
    catalog.WHISPER,
)
TTS_MODEL = catalog.AURA_2_EN
HA_VAD_SILENCE_S = 0.7
"""``AudioSettings.silence_seconds`` default of Home Assistant's pipeline VAD."""
FLUX_EOT_S = 0.7
"""The emulator's flux end of turn at the default ``eot_threshold``: 0.7 s of silence
(:mod:`wyoming_server.emulator.listen_v2`), reported on a 0.24 s audio clock."""
RUN_TIMEOUT_S = 60


def build_recording() -> tuple[bytes, int]:
    """The recording (speech trimmed to 50 ms after its end, then room noise) and the sample
    where its speech ends."""
    speech = trim_silence(speech_pcm16k(RECORDING))
    pcm = recording_with_silence(speech, TRAILING_SILENCE_S)
    return pcm, speech_end_sample(pcm)


async def create_pipeline(hass: HomeAssistant, stt_entity: str, tts_entity: str) -> str:
    """A US English pipeline: ``stt_entity`` -> Home Assistant's agent -> ``tts_entity`` with
    its first voice (what the pipeline editor stores)."""
    voices = await hass.call(
        {"type": "tts/engine/voices", "engine_id": tts_entity, "language": "en-US"}
    )
    pipeline = await hass.call(
        {
            "type": "assist_pipeline/pipeline/create",
            "name": f"Benchmark {stt_entity}",
            "language": "en",
            "conversation_engine": "conversation.home_assistant",
            "conversation_language": "en",
            "stt_engine": stt_entity,
            "stt_language": "en-US",
            "tts_engine": tts_entity,
            "tts_language": "en-US",
            "tts_voice": voices["voices"][0]["voice_id"],
            "wake_word_entity": None,
            "wake_word_id": None,
        }
    )
    return str(pipeline["id"])


async def first_audio_at(http: aiohttp.ClientSession, url: str) -> tuple[float, int]:
    """GET ``url``; when its first audio byte (past the WAV/MP3 header) arrived, and the
    body's length."""
    head = b""
    first: float | None = None
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=RUN_TIMEOUT_S)) as response:
        response.raise_for_status()
        async for chunk in response.content.iter_any():
            head += chunk
            if first is None:
                offset = audio_offset(head)
                if offset is not None and len(head) > offset:
                    first = time.monotonic()
    if first is None:
        raise RuntimeError(f"no audio from {url} ({len(head)} bytes)")
    return first, len(head)


async def run_pipeline(
    hass: HomeAssistant, pipeline_id: str, pcm: bytes, speech_end: int
) -> tuple[RunClock, int]:
    """One ``assist_pipeline/run`` (stt -> tts) fed like a satellite: 20 ms chunks at real
    time, stopped at ``stt-vad-end`` / ``stt-end``. The run's clock and the audio's length."""
    run_id = hass.next_id()
    await hass.ws.send_json(
        {
            "id": run_id,
            "type": "assist_pipeline/run",
            "pipeline": pipeline_id,
            "start_stage": "stt",
            "end_stage": "tts",
            "input": {"sample_rate": RATE},
            "timeout": RUN_TIMEOUT_S,
        }
    )
    clock = RunClock(t0=0.0, speech_end_sample=speech_end)
    handler = asyncio.get_running_loop().create_future()
    stop_audio = asyncio.Event()
    fetch: asyncio.Task[tuple[float, int]] | None = None

    async def send_audio() -> None:
        prefix = bytes([await handler])
        step = RATE * CHUNK_MS // 1000 * 2
        clock.t0 = time.monotonic()
        for start in range(0, len(pcm), step):
            due = clock.t0 + (start + step) / 2 / RATE  # the chunk's last sample captured
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if stop_audio.is_set():
                break
            await hass.ws.send_bytes(prefix + pcm[start : start + step])
        await hass.ws.send_bytes(prefix)  # end of audio

    sender = asyncio.create_task(send_audio())
    try:
        async with asyncio.timeout(RUN_TIMEOUT_S):
            while True:
                message = await hass.ws.receive_json()
                if message.get("id") != run_id:
                    continue
                if message["type"] == "result":
                    if not message["success"]:
                        raise RuntimeError(f"assist_pipeline/run refused: {message['error']}")
                    continue
                now = time.monotonic()
                event = message["event"]
                kind, data = event["type"], event.get("data") or {}
                clock.events.append((now, kind, data))
                if kind == "run-start":
                    handler.set_result(data["runner_data"]["stt_binary_handler_id"])
                elif kind in ("stt-vad-end", "stt-end"):
                    stop_audio.set()
                elif kind == "tts-end":
                    url = hass.url + data["tts_output"]["url"]
                    fetch = asyncio.create_task(first_audio_at(hass.http, url))
                elif kind == "error":
                    raise RuntimeError(f"pipeline error: {data}")
                elif kind == "run-end":
                    break
        await sender
        if fetch is None:
            raise RuntimeError("the run ended without tts-end")
        clock.first_audio, size = await fetch
    finally:
        stop_audio.set()
        if not handler.done():
            handler.cancel()
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        if fetch is not None and not fetch.done():
            fetch.cancel()
    return clock, size


async def entity_wav_first_audio(hass: HomeAssistant, tts_entity: str, text: str) -> float:
    """Seconds from ``tts_get_url`` (the entity's own WAV, no conversion) to its first audio
    byte."""
    started = time.monotonic()
    answer = await hass.rest(
        "POST",
        "/api/tts_get_url",
        {
            "engine_id": tts_entity,
            "message": text,
            "language": "en-US",
            "options": {"preferred_format": "wav"},
        },
    )
    first, _ = await first_audio_at(hass.http, hass.url + answer["path"])
    return first - started


async def synthesis_first_audio(
    client: WorkersAIClient, emu: EmulatorProcess, text: str, speaker: str, rtt_ms: float
) -> float:
    """Seconds from sending ``text`` over an open aura WebSocket to its first audio, at 0 ms
    RTT (the emulator's synthesis time); the RTT is restored afterwards."""
    await emu.set_faults(rtt_ms=0)
    try:
        async with client.speak(TTS_MODEL, speaker=speaker) as tts:
            started = time.monotonic()
            await tts.send_text(text)
            async for _frame in tts.flushed_audio():
                return time.monotonic() - started
        raise RuntimeError("no synthesized audio")
    finally:
        await emu.set_faults(rtt_ms=rtt_ms)


def versions(python: Path) -> dict[str, Any]:
    """Versions of what the figures depend on."""
    probe = (
        "import importlib.metadata as m, json\n"
        "print(json.dumps({n: m.version(n) for n in "
        "('homeassistant', 'pymicro-vad', 'aiohttp')}))"
    )
    found: dict[str, Any] = {}
    try:
        out = subprocess.run(
            [str(python), "-c", probe], check=True, capture_output=True, text=True
        ).stdout
        found.update(__import__("json").loads(out))
    except (OSError, subprocess.CalledProcessError) as err:
        found["error"] = str(err)
    found["python_home_assistant"] = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    found["wyoming-workers-ai (this checkout)"] = _version("wyoming-workers-ai")
    ffmpeg = shutil.which("ffmpeg")
    found["ffmpeg"] = (
        subprocess.run(
            [ffmpeg, "-version"], capture_output=True, text=True, check=False
        ).stdout.split("\n", 1)[0]
        if ffmpeg
        else None
    )
    found["git_commit"] = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.strip()
    return found


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """The whole run; the report."""
    started_wall = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    started = time.monotonic()
    load_start = os.getloadavg()
    pcm, speech_end = build_recording()
    models = list(args.models)
    report: dict[str, Any] = {
        "started": started_wall,
        "command": "python -m benchmarks ha-pipeline " + " ".join(sys.argv[2:]),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_start": [round(v, 2) for v in load_start],
        },
        "versions": versions(args.hass_python),
        "rtt_ms": args.rtt_ms,
        "recording": {
            "file": f"tests/data/{RECORDING}",
            "processing": f"trimmed to 50 ms past its last sample above 600 (|s16|), then "
            f"{TRAILING_SILENCE_S:g} s of room noise at -60 dBFS",
            "total_s": round(len(pcm) / 2 / RATE, 3),
            "speech_end_sample": speech_end,
            "speech_end_s": round(speech_end / RATE, 3),
            "speech_end_method": "end of the last 20 ms frame above -38 dBFS RMS (the "
            "emulator's speech detection, wyoming_server/emulator/vad.py)",
            "chunk_ms": CHUNK_MS,
            "pacing": "real time; each chunk is sent when its last sample has been captured",
        },
        "home_assistant": {
            "vad": f"Home Assistant's own (microVAD), silence_seconds {HA_VAD_SILENCE_S} "
            "(default), for models with requires_external_vad; pymicro-vad 2.x's "
            "process_10ms called under its 1.x name (benchmarks/ha_instance.py)",
            "agent": "conversation.home_assistant (answers in one piece: no intent-progress "
            "text, so the reply is known at intent-end)",
            "tts": f"{TTS_MODEL}, the pipeline's first voice; pipeline audio is MP3 "
            "(the WebSocket run's default) converted by ffmpeg from the entity's WAV",
        },
        "emulator": {
            "model_latency_ms": args.model_latency_ms,
            "flux_end_of_turn": f"{FLUX_EOT_S} s of silence (eot_threshold default), on a "
            "0.24 s TurnInfo clock: the emulator's stand-in for Flux's end-of-turn model",
        },
    }
    per_model: dict[str, dict[str, Any]] = {}
    async with EmulatorProcess(preload=True) as emu:
        await emu.set_faults(rtt_ms=args.rtt_ms, model_latency_ms=args.model_latency_ms)
        async with (
            home_assistant(emu, args.hass_python) as hass,
            aiohttp.ClientSession() as session,
        ):
            entry_id = await add_integration(hass, emu)
            for model_id in models:
                if model_id != catalog.NOVA_3:  # the entry's first service is nova-3
                    await hass.add_stt_service(entry_id, model_id, f"Bench {model_id}")
            entities = await _wait_entities(hass, entry_id, len(models))
            tts_entity = await _tts_entity(hass)
            speaker = await _speaker(hass)
            client = WorkersAIClient(
                session, emu.account_id, emu.api_token, api_base_url=emu.base_url
            )
            pipelines = {}
            for model_id in models:
                entity = _entity_for(entities, model_id)
                pipelines[model_id] = await create_pipeline(hass, entity, tts_entity)
                per_model[model_id] = {"stt_entity": entity, "runs": []}
            for repeat in range(args.runs + 1):  # round one warms up (not counted)
                for model_id in models:
                    await hass.rest("POST", "/api/services/tts/clear_cache", {})
                    clock, size = await run_pipeline(hass, pipelines[model_id], pcm, speech_end)
                    reply = _reply(clock)
                    await hass.rest("POST", "/api/services/tts/clear_cache", {})
                    wav_first = await entity_wav_first_audio(hass, tts_entity, reply)
                    synthesis = await synthesis_first_audio(
                        client, emu, reply, speaker, args.rtt_ms
                    )
                    row = {
                        **clock.deltas(),
                        "entity_wav_first_audio": round(wav_first, 4),
                        "first_sentence_synthesis": round(synthesis, 4),
                        "first_sentence_event": clock.first_sentence()[1],
                        "transcript": clock.data("stt-end").get("stt_output", {}).get("text"),
                        "reply": reply,
                        "tts_bytes": size,
                        "events": [k for _, k, _ in clock.events],
                    }
                    label = "warm-up" if repeat == 0 else f"run {repeat}"
                    print(
                        f"  {label} {model_id}: end of speech -> stt-end "
                        f"{_ms(row['stt_end_after_speech_end'])}, reply -> first audio "
                        f"{_ms(row['first_audio_after_first_sentence'])} (WAV "
                        f"{_ms(wav_first)}, synthesis {_ms(synthesis)}); heard "
                        f"{row['transcript']!r}",
                        flush=True,
                    )
                    if repeat:
                        per_model[model_id]["runs"].append(row)
    for result in per_model.values():
        runs = result["runs"]
        for key in (
            "stt_end_after_speech_end",
            "vad_end_after_speech_end",
            "first_audio_after_first_sentence",
            "entity_wav_first_audio",
            "first_sentence_synthesis",
        ):
            result[key] = stats([r[key] for r in runs])
        result["first_audio_minus_synthesis"] = stats(
            [r["first_audio_after_first_sentence"] - r["first_sentence_synthesis"] for r in runs]
        )
        result["entity_wav_minus_synthesis"] = stats(
            [r["entity_wav_first_audio"] - r["first_sentence_synthesis"] for r in runs]
        )
    report["models"] = per_model
    report["goals"] = goals(per_model, args.rtt_ms, speech_end)
    report["machine"]["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    report["duration_s"] = round(time.monotonic() - started, 1)
    return report


def goals(per_model: dict[str, dict[str, Any]], rtt_ms: float, speech_end: int) -> dict[str, Any]:
    """Issue 18's targets against the medians: flux end of speech -> transcript <= 400 ms;
    first TTS audio <= first-sentence synthesis + 1 RTT + 20 ms."""
    out: dict[str, Any] = {}
    if flux := per_model.get(catalog.FLUX):
        median = flux["stt_end_after_speech_end"]["median_ms"]
        floor = emulator_flux_floor(speech_end, FLUX_EOT_S, TICK) + rtt_ms / 1000
        out["flux_stt_end_after_speech_end_ms"] = {
            "target_ms": 400, "median_ms": median,
            "met": median is not None and median <= 400,
            "note": f"the emulator's flux ends a turn after {FLUX_EOT_S} s of silence, so "
            "this can be neither met nor refuted against it; the distance from "
            "emulator_floor_ms is what the path adds",
            "median_minus_emulator_eot_ms": None if median is None
            else round(median - FLUX_EOT_S * 1000, 1),
            "emulator_floor_ms": round(floor * 1000, 1),
            "emulator_floor": "first TurnInfo tick at or past end of speech + "
            f"{FLUX_EOT_S} s, plus 1 RTT: no path can be faster against the emulator",
            "median_minus_emulator_floor_ms": None if median is None
            else round(median - floor * 1000, 1),
        }  # fmt: skip
    allowed = rtt_ms + 20
    for key, label in (
        ("first_audio_minus_synthesis", "pipeline_mp3"),
        ("entity_wav_minus_synthesis", "entity_wav"),
    ):
        medians = {m: r[key]["median_ms"] for m, r in per_model.items()}
        out[f"tts_{label}_first_audio_minus_synthesis_ms"] = {
            "target_ms": allowed,
            "median_ms_by_stt_model": medians,
            "met": all(v is not None and v <= allowed for v in medians.values()),
        }
    return out


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def _reply(clock: RunClock) -> str:
    output = clock.data("intent-end").get("intent_output", {})
    return str(output["response"]["speech"]["plain"]["speech"])


def _entity_for(entities: dict[str, str], model_id: str) -> str:
    if model_id == catalog.NOVA_3:
        return next(e for t, e in entities.items() if not t.startswith("Bench "))
    return entities[f"Bench {model_id}"]


async def _wait_entities(hass: HomeAssistant, entry_id: str, count: int) -> dict[str, str]:
    deadline = time.monotonic() + 60
    while len(entities := await hass.stt_entities(entry_id)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only these STT entities appeared: {entities}")
        await asyncio.sleep(0.5)
    return entities


async def _tts_entity(hass: HomeAssistant) -> str:
    states = await hass.rest("GET", "/api/states")
    return str(next(s["entity_id"] for s in states if s["entity_id"].startswith("tts.")))


async def _speaker(hass: HomeAssistant) -> str:
    """The aura speaker the pipeline's voice ("Follow the voice select") speaks with."""
    states = await hass.rest("GET", "/api/states")
    select = next(
        s
        for s in states
        if s["entity_id"].startswith("select.") and s["entity_id"].endswith("_voice")
    )
    return str(select["state"])


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks ha-pipeline", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=3, help="measured runs per model (default 3)")
    parser.add_argument(
        "--rtt-ms", type=float, default=60.0, help="network round trip (emulator rtt_ms fault)"
    )
    parser.add_argument(
        "--model-latency-ms",
        type=float,
        default=0.0,
        help="emulator inference floor (ms); 0 keeps its real Whisper/Piper time",
    )
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--hass-python", type=Path, default=HASS_PYTHON)
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "ha-pipeline.json"
    )
    return parser


async def main(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    if catalog.NOVA_3 not in args.models:
        args.models.append(catalog.NOVA_3)  # the entry's own first service
    if not args.hass_python.exists():
        raise SystemExit(f"{args.hass_python} missing: run script/setup --test first")
    if shutil.which("ffmpeg") is None:
        raise SystemExit("ffmpeg is not on PATH: Home Assistant needs it for pipeline audio")
    report = await measure(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(__import__("json").dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(markdown(report))
    print(f"wrote {args.output} in {report['duration_s']} s")


def markdown(report: dict[str, Any]) -> str:
    """A README-ready table of the medians (min-max)."""

    def cell(s: dict[str, Any]) -> str:
        if s["median_ms"] is None:
            return "n/a"
        return f"{s['median_ms']:.0f} ms ({s['min_ms']:.0f}-{s['max_ms']:.0f})"

    lines = [
        "| STT model | end of speech -> stt-end | -> stt-vad-end | reply -> first TTS audio "
        "(pipeline MP3) | (entity WAV) | first-sentence synthesis | MP3 / WAV - synthesis |",
        "|---|---|---|---|---|---|---|",
    ]
    for model_id, r in report["models"].items():
        lines.append(
            f"| {model_id} | {cell(r['stt_end_after_speech_end'])} "
            f"| {cell(r['vad_end_after_speech_end'])} "
            f"| {cell(r['first_audio_after_first_sentence'])} "
            f"| {cell(r['entity_wav_first_audio'])} | {cell(r['first_sentence_synthesis'])} "
            f"| {cell(r['first_audio_minus_synthesis'])} / "
            f"{cell(r['entity_wav_minus_synthesis'])} |"
        )
    return "\n".join(lines)
