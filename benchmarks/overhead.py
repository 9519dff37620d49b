"""Server overhead: a call through the Wyoming server minus the same call made directly.

STT: 1 s of real speech, sent at once, whisper-tiny-en over REST (`transcribe` … `audio-stop` →
`transcript` vs `WorkersAIClient.transcribe_pcm`). TTS: one short sentence with an aura voice
(`synthesize` → `audio-stop` vs the client's WebSocket session until `Flushed`). Calls
alternate (server, direct, server, ...) and the emulator's model latency is held constant so
that inference time does not vary between the two; the overhead is the per-pair difference.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeVoice

from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import WorkersAIClient

from .harness import speech_pcm16k, summary, wyoming_server

STT_MODEL = "@cf/openai/whisper-tiny-en"
TTS_MODEL, TTS_SPEAKER = "@cf/deepgram/aura-2-en", "luna"
SENTENCE = "The lamp is on."


async def _server_stt(port: int, pcm: bytes) -> float:
    started = time.perf_counter()
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Transcribe(name=STT_MODEL, language="en").event())
        await client.write_event(AudioStart(16000, 2, 1).event())
        for offset in range(0, len(pcm), 2048):
            await client.write_event(AudioChunk(16000, 2, 1, pcm[offset : offset + 2048]).event())
        await client.write_event(AudioStop().event())
        while (event := await client.read_event()) is not None:
            if Transcript.is_type(event.type):
                return time.perf_counter() - started
    raise RuntimeError("no transcript")


async def _server_tts(port: int) -> float:
    started = time.perf_counter()
    async with AsyncTcpClient("127.0.0.1", port) as client:
        voice = SynthesizeVoice(name=f"{TTS_MODEL.rsplit('/', 1)[1]}-{TTS_SPEAKER}")
        await client.write_event(Synthesize(text=SENTENCE, voice=voice).event())
        while (event := await client.read_event()) is not None:
            if event.type == "audio-stop":
                return time.perf_counter() - started
    raise RuntimeError("no audio-stop")


async def run(emu: EmulatorProcess, calls: int, model_latency_ms: float) -> dict[str, Any]:
    pcm = speech_pcm16k("living_room_light_en.wav")[: 16000 * 2]
    await emu.set_faults(model_latency_ms=model_latency_ms)
    out: dict[str, Any] = {"model_latency_ms": model_latency_ms, "calls": calls}
    async with wyoming_server(emu) as port, aiohttp.ClientSession() as session:
        client = WorkersAIClient(session, emu.account_id, emu.api_token, api_base_url=emu.base_url)

        async def direct_stt() -> float:
            started = time.perf_counter()
            await client.transcribe_pcm(STT_MODEL, pcm, 16000, language="en")
            return time.perf_counter() - started

        async def direct_tts() -> float:
            started = time.perf_counter()
            async with client.speak(TTS_MODEL, speaker=TTS_SPEAKER) as tts:
                await tts.send_text(SENTENCE)
                async for _ in tts.flushed_audio():
                    pass
            return time.perf_counter() - started

        async def server_stt() -> float:
            return await _server_stt(port, pcm)

        async def server_tts() -> float:
            return await _server_tts(port)

        for name, via_server, direct in (
            ("stt", server_stt, direct_stt),
            ("tts", server_tts, direct_tts),
        ):
            await via_server()  # warm-up: connections, model load
            await direct()
            server_times, direct_times, overhead = [], [], []
            for _ in range(calls):
                s = await via_server()
                d = await direct()
                server_times.append(s)
                direct_times.append(d)
                overhead.append(s - d)
            out[name] = {
                "through_server": summary(server_times),
                "direct": summary(direct_times),
                "overhead": summary(overhead),
            }
            print(
                f"  {name} overhead p50 {out[name]['overhead']['p50_ms']} ms, p99 {out[name]['overhead']['p99_ms']} ms"
            )
    await emu.reset_faults()
    return out
