"""STT: the wait between `audio-stop` and `transcript`, for a short and a long utterance.

Audio is sent in real time (100 ms chunks every 100 ms), as a satellite would. Streaming models
(nova-3, flux) transcribe while the audio arrives; Whisper (REST) uploads after `audio-stop`.
Also measured directly with the client: the Whisper upload as WAV vs FLAC, on an unthrottled
and on a 1 Mbit/s uplink (the emulator reads request bodies at that rate).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient

from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import WorkersAIClient

from .harness import long_utterance, speech_pcm16k, summary, wyoming_server

CHUNK_SECONDS = 0.1
REST_MODEL = "@cf/openai/whisper-large-v3-turbo"
ONE_MBIT_PER_SECOND = 125_000  # bytes per second


async def wait_after_stop(port: int, model: str, pcm: bytes) -> tuple[float, str]:
    """Send ``pcm`` in real time; return (seconds from `audio-stop` to `transcript`, text)."""
    chunk_bytes = int(16000 * CHUNK_SECONDS) * 2
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Transcribe(name=model, language="en").event())
        await client.write_event(AudioStart(16000, 2, 1).event())
        start = time.perf_counter()
        for i, offset in enumerate(range(0, len(pcm), chunk_bytes)):
            await client.write_event(
                AudioChunk(16000, 2, 1, pcm[offset : offset + chunk_bytes]).event()
            )
            delay = start + (i + 1) * CHUNK_SECONDS - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        stopped = time.perf_counter()
        await client.write_event(AudioStop().event())
        while (event := await client.read_event()) is not None:
            if Transcript.is_type(event.type):
                return time.perf_counter() - stopped, Transcript.from_event(event).text
    raise RuntimeError("connection closed without a transcript")


async def run(
    emu: EmulatorProcess,
    repeats: int,
    model_latency_ms: float,
    rtt_ms: float = 0.0,
    *,
    uploads: bool = True,
    lengths: tuple[str, ...] = ("2s", "15s"),
) -> dict[str, Any]:
    utterances = {"2s": speech_pcm16k("living_room_light_en.wav"), "15s": long_utterance(15.0)}
    utterances = {k: v for k, v in utterances.items() if k in lengths}
    results: dict[str, Any] = {
        "model_latency_ms": model_latency_ms,
        "rtt_ms": rtt_ms,
        "utterance_seconds": {k: round(len(v) / 32000, 2) for k, v in utterances.items()},
        "through_server": {},
    }
    await emu.set_faults(model_latency_ms=model_latency_ms, rtt_ms=rtt_ms)
    async with wyoming_server(emu) as port:
        for model in (
            "@cf/deepgram/nova-3",
            "@cf/deepgram/flux",
            "@cf/openai/whisper-large-v3-turbo",
        ):
            per_model: dict[str, Any] = {}
            for label, pcm in utterances.items():
                waits, texts = [], []
                for _ in range(repeats):
                    wait, text = await wait_after_stop(port, model, pcm)
                    waits.append(wait)
                    texts.append(text)
                per_model[label] = {**summary(waits), "text": texts[-1]}
            if "15s" in per_model and "2s" in per_model:
                per_model["ratio_15s_to_2s"] = round(
                    per_model["15s"]["p50_ms"] / per_model["2s"]["p50_ms"], 2
                )
            results["through_server"][model] = per_model
            print(
                f"  {model}: "
                + ", ".join(
                    f"{k} {v['p50_ms']} ms (min {v['min_ms']})"
                    for k, v in per_model.items()
                    if isinstance(v, dict)
                )
            )
    # The first utterance of a server that has no connection yet (as after an idle minute):
    # a REST upload then pays a new connection unless one was opened at transcribe.
    cold = []
    for _ in range(repeats):
        async with wyoming_server(emu) as port:
            wait, _text = await wait_after_stop(port, REST_MODEL, utterances[lengths[0]])
            cold.append(wait)
    results["first_rest_utterance_of_a_new_server"] = {**summary(cold), "model": REST_MODEL}
    print(f"  {REST_MODEL}, first utterance of a new server: {summary(cold)['p50_ms']} ms")
    if uploads:
        results["whisper_upload"] = await _upload_formats(emu, utterances, repeats)
    await emu.reset_faults()
    return results


async def _upload_formats(
    emu: EmulatorProcess, utterances: dict[str, bytes], repeats: int
) -> dict[str, Any]:
    """Direct client calls: whole-utterance Whisper REST with WAV vs FLAC uploads."""
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        for uplink, bps in (("unthrottled", None), ("1mbit", ONE_MBIT_PER_SECOND)):
            await emu.set_faults(upload_bytes_per_second=bps)
            for upload_format in ("wav", "flac"):
                client = WorkersAIClient(
                    session,
                    emu.account_id,
                    emu.api_token,
                    api_base_url=emu.base_url,
                    upload_format=upload_format,
                )
                for label, pcm in utterances.items():
                    waits = []
                    for _ in range(repeats):
                        started = time.perf_counter()
                        await client.transcribe_pcm(
                            "@cf/openai/whisper-large-v3-turbo", pcm, 16000, language="en"
                        )
                        waits.append(time.perf_counter() - started)
                    out[f"{uplink}/{upload_format}/{label}"] = summary(waits)
                    print(
                        f"  whisper {uplink} {upload_format} {label}: {out[f'{uplink}/{upload_format}/{label}']['p50_ms']} ms"
                    )
        await emu.set_faults(upload_bytes_per_second=None)
    return out
