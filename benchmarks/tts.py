"""TTS: time to the first audio of a three-sentence reply, streaming vs not.

- streaming: `synthesize-start`, the reply in `synthesize-chunk`s, `synthesize-stop` through the
  server (aura WebSocket, sentence by sentence); clock starts when the first chunk is sent.
- first sentence alone: the same model over the WebSocket directly with the client, to the first
  audio frame (the target: streaming first audio <= this + 20 ms), and over REST, whole.
- non-streaming: the whole reply over REST with the client (first audio = all audio).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from wyoming.audio import AudioChunk
from wyoming.client import AsyncTcpClient
from wyoming.tts import (
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import WorkersAIClient

from .harness import summary, wyoming_server

SENTENCES = (
    "The living room lamp is now on.",
    "The kitchen lights are still off, and the front door is locked.",
    "Is there anything else you would like me to do?",
)
MODEL = "@cf/deepgram/aura-2-en"
REPLY_GAP_S = 1.0
"""Seconds between two measured replies, plus four round trips."""
VOICE = "aura-2-en-luna"


async def streamed_first_audio(port: int) -> float:
    """Seconds from the first `synthesize-chunk` to the first `audio-chunk`."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name=VOICE)).event())
        started = time.perf_counter()
        for sentence in SENTENCES:  # as an LLM would: word by word
            for word in sentence.split(" "):
                await client.write_event(SynthesizeChunk(text=word + " ").event())
        first: float | None = None
        await client.write_event(SynthesizeStop().event())
        while (event := await client.read_event()) is not None:
            if first is None and AudioChunk.is_type(event.type):
                first = time.perf_counter() - started
            if SynthesizeStopped.is_type(event.type):
                break
    if first is None:
        raise RuntimeError("no audio")
    return first


async def run(
    emu: EmulatorProcess, repeats: int, model_latency_ms: float, rtt_ms: float = 0.0
) -> dict[str, Any]:
    await emu.set_faults(model_latency_ms=model_latency_ms, rtt_ms=rtt_ms)
    streamed: list[float] = []
    async with wyoming_server(emu, "--tts-voice", VOICE) as port:
        await streamed_first_audio(port)  # warm-up: loads the TTS model in the emulator
        for _ in range(repeats):
            # Replies come seconds apart (a user speaks in between): give the server's spare
            # WebSocket (opened after each reply, ~3 round trips) the time it has in real use.
            await asyncio.sleep(REPLY_GAP_S + 4 * rtt_ms / 1000)
            streamed.append(await streamed_first_audio(port))
    ws_first, rest_first, rest_whole = [], [], []
    async with aiohttp.ClientSession() as session:
        client = WorkersAIClient(session, emu.account_id, emu.api_token, api_base_url=emu.base_url)
        for _ in range(repeats):
            started = time.perf_counter()
            async with client.speak(MODEL, speaker="luna") as tts:
                await tts.send_text(SENTENCES[0])
                async for _frame in tts.flushed_audio():
                    ws_first.append(time.perf_counter() - started)
                    break
            started = time.perf_counter()
            await client.synthesize(MODEL, SENTENCES[0], speaker="luna")
            rest_first.append(time.perf_counter() - started)
            started = time.perf_counter()
            await client.synthesize(MODEL, " ".join(SENTENCES), speaker="luna")
            rest_whole.append(time.perf_counter() - started)
    await emu.reset_faults()
    result: dict[str, Any] = {
        "model_latency_ms": model_latency_ms,
        "rtt_ms": rtt_ms,
        "streaming_first_audio": summary(streamed),
        "first_sentence_websocket_first_audio": summary(ws_first),
        "first_sentence_rest_whole": summary(rest_first),
        "non_streaming_rest_whole_reply": summary(rest_whole),
    }
    result["streaming_minus_first_sentence_ms"] = round(
        result["streaming_first_audio"]["p50_ms"]
        - result["first_sentence_websocket_first_audio"]["p50_ms"], 2
    )  # fmt: skip
    print(
        f"  streaming first audio {result['streaming_first_audio']['p50_ms']} ms "
        f"(min {result['streaming_first_audio']['min_ms']}); first sentence alone "
        f"{result['first_sentence_websocket_first_audio']['p50_ms']} ms; whole reply over REST "
        f"{result['non_streaming_rest_whole_reply']['p50_ms']} ms"
    )
    return result
