"""The emulator's load mode answers every model at once, without inference, in the real shapes.

Real speech goes in; the canned transcript comes out of every ASR transport (REST, listen v1 and
v2 WebSockets through the Wyoming server), and synthetic audio of a speech-like length comes out
of every TTS transport, many requests at the same time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from wyoming.asr import Transcribe
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.wyoming_server.server_harness import (
    ServerProcess,
    audio_events,
    emulator_args,
    emulator_env,
    pcm_of,
    read_until,
    read_wav,
)
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.emulator.load_mode import CANNED_TEXT, SECONDS_PER_CHARACTER
from wyoming_server.workers_ai import WorkersAIClient

TEXT = "Hello there. How are you today?"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def load_emulator() -> AsyncIterator[EmulatorProcess]:
    async with EmulatorProcess(load_mode=True) as proc:
        yield proc


@pytest_asyncio.fixture
async def client(load_emulator: EmulatorProcess) -> AsyncIterator[WorkersAIClient]:
    await load_emulator.reset_faults()
    async with aiohttp.ClientSession() as session:
        yield WorkersAIClient(
            session,
            load_emulator.account_id,
            load_emulator.api_token,
            api_base_url=load_emulator.base_url,
        )
    await load_emulator.reset_faults()


async def test_rest_asr_gives_the_canned_transcript_or_nothing_for_silence(
    client: WorkersAIClient, speech_dir: Path
) -> None:
    pcm, rate, _, _ = read_wav(speech_dir / "living_room_light_de.wav")
    heard = await client.transcribe_pcm("@cf/openai/whisper", pcm, rate)
    assert heard.text == CANNED_TEXT
    silence = await client.transcribe_pcm("@cf/openai/whisper", bytes(32000), 16000)
    assert silence.text == ""


@pytest.mark.parametrize("model", ["@cf/deepgram/aura-2-en", "@cf/myshell-ai/melotts"])
async def test_rest_tts_gives_audio_of_a_speech_like_length(
    client: WorkersAIClient, model: str
) -> None:
    result = await client.synthesize_pcm(model, TEXT, sample_rate=24000)
    seconds = len(result.pcm) / 2 / result.sample_rate
    expected = len(TEXT) * SECONDS_PER_CHARACTER
    assert expected * 0.5 < seconds < expected * 2
    assert any(result.pcm)  # a tone, not silence


async def test_many_requests_are_answered_concurrently(
    client: WorkersAIClient, load_emulator: EmulatorProcess
) -> None:
    """With one inference at a time, 20 answers of 1 s each would take 20 s."""
    await load_emulator.set_faults(model_latency_ms=1000)
    started = time.monotonic()
    results = await asyncio.gather(
        *(client.synthesize_pcm("@cf/deepgram/aura-2-en", TEXT) for _ in range(20))
    )
    assert all(r.pcm for r in results)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("model", ["@cf/deepgram/nova-3", "@cf/deepgram/flux"])
async def test_streaming_models_through_the_wyoming_server(
    load_emulator: EmulatorProcess, speech_dir: Path, model: str
) -> None:
    pcm, rate, width, channels = read_wav(speech_dir / "living_room_light_en.wav")
    args = emulator_args(load_emulator)
    async with ServerProcess(args, emulator_env(load_emulator)) as server:
        async with server.client() as stt:
            await stt.write_event(Transcribe(name=model, language="en").event())
            for event in audio_events(pcm, rate, width, channels):
                await stt.write_event(event)
            events = await read_until(stt, ["transcript"])
        async with server.client() as tts:
            voice = SynthesizeVoice(name="aura-2-en-luna")
            await tts.write_event(Synthesize(text=TEXT, voice=voice).event())
            spoken, spoken_rate = pcm_of(await read_until(tts, ["audio-stop"]))
    assert events[-1].data["text"] == CANNED_TEXT
    assert len(spoken) / 2 / spoken_rate > len(TEXT) * SECONDS_PER_CHARACTER * 0.5


async def test_model_calls_are_counted_by_transport(
    client: WorkersAIClient, load_emulator: EmulatorProcess
) -> None:
    await load_emulator.request_counts(reset=True)
    await client.synthesize_pcm("@cf/deepgram/aura-2-en", TEXT)
    async with client.speak("@cf/deepgram/aura-2-en", speaker="luna", sample_rate=24000) as speak:
        await speak.send_text(TEXT)
        async for _ in speak.flushed_audio(timeout=10):
            pass
    await load_emulator.set_faults(fail_next=1, status=500, code=3001)
    await client.transcribe_pcm("@cf/openai/whisper-tiny-en", bytes(3200), 16000)  # 1 retry
    counts = await load_emulator.request_counts(reset=True)
    assert counts["rest"]["@cf/deepgram/aura-2-en"] == 1
    assert counts["websocket"] == {"@cf/deepgram/aura-2-en": 1}
    assert counts["rest"]["@cf/openai/whisper-tiny-en"] == 2  # the failed call counts too
    assert await load_emulator.request_counts() == {"rest": {}, "websocket": {}}
