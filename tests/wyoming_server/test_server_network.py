"""Connections are ready before they are needed (a real network costs round trips).

Through the Wyoming server subprocess against the emulator subprocess, whose
``GET /__emulator__/network`` tells which Workers AI calls paid for a new connection and how
many WebSockets are open:

- ``transcribe`` opens the streaming model's WebSocket before any audio;
- ``transcribe`` opens a connection that the REST upload at ``audio-stop`` then reuses;
- ``synthesize-start`` opens the aura WebSocket before any text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from wyoming.asr import Transcribe
from wyoming.tts import SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from tests.wyoming_server.server_harness import (
    ServerProcess,
    audio_events,
    emulator_args,
    emulator_env,
    read_until,
    read_wav,
)
from wyoming_server.emulator import EmulatorProcess

LIGHT = "living room light"
NOVA_3 = "@cf/deepgram/nova-3"
WHISPER_TINY_EN = "@cf/openai/whisper-tiny-en"
AURA_2_EN = "@cf/deepgram/aura-2-en"

Condition = Callable[[], Awaitable[bool]]


async def poll(condition: Condition) -> bool:
    """Check ``condition`` every 0.1 s for up to 10 s; whether it became true."""
    for _ in range(100):
        if await condition():
            return True
        await asyncio.sleep(0.1)
    return False


async def websockets_open(emulator: EmulatorProcess, model: str, count: int) -> bool:
    """Whether exactly ``count`` WebSockets of ``model`` are open at the emulator now."""
    return (await emulator.network_stats())["open_websockets"].get(model, 0) == count


async def open_websockets_reach(emulator: EmulatorProcess, model: str, count: int) -> bool:
    """Poll the emulator for up to 10 s until ``count`` WebSockets of ``model`` are open."""
    return await poll(lambda: websockets_open(emulator, model, count))


async def transcribe_light(
    server: ServerProcess, speech_dir: Path, model: str, *, ready: Condition | None = None
) -> str:
    """Transcribe living_room_light_en.wav with ``model`` over one new connection and return
    the ``transcript`` text. With ``ready``, it must become true (:func:`poll`) after
    ``transcribe`` and before the first audio event."""
    pcm, rate, width, channels = read_wav(speech_dir / "living_room_light_en.wav")
    async with server.client() as client:
        await client.write_event(Transcribe(name=model, language="en").event())
        if ready is not None:
            assert await poll(ready)
        for event in audio_events(pcm, rate, width, channels):
            await client.write_event(event)
        events = await read_until(client, ["transcript"])
    text: str = events[-1].data["text"]
    return text


async def test_transcribe_opens_the_websocket_before_the_audio(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    async with ServerProcess(
        emulator_args(emulator_process), emulator_env(emulator_process)
    ) as own:
        text = await transcribe_light(
            own, speech_dir, NOVA_3, ready=lambda: websockets_open(emulator_process, NOVA_3, 1)
        )
        assert LIGHT in text.lower()
        assert await open_websockets_reach(emulator_process, NOVA_3, 0)


async def test_rest_upload_reuses_the_connection_opened_at_transcribe(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    async with ServerProcess(
        emulator_args(emulator_process), emulator_env(emulator_process)
    ) as own:
        before = await emulator_process.network_stats()

        async def connected() -> bool:
            stats = await emulator_process.network_stats()
            return bool(stats["connections"] > before["connections"])

        # A real utterance lasts seconds: by its end the connection is open.
        text = await transcribe_light(own, speech_dir, WHISPER_TINY_EN, ready=connected)
        after = await emulator_process.network_stats()
    assert LIGHT in text.lower()
    # This server's first model call, yet on a connection that was already open.
    assert after["rest_calls_on_new_connections"] == before["rest_calls_on_new_connections"]
    assert after["rest_calls_on_reused_connections"] == (
        before["rest_calls_on_reused_connections"] + 1
    )


async def test_synthesize_start_opens_the_websocket_before_the_text(
    emulator_process: EmulatorProcess,
) -> None:
    async with ServerProcess(
        emulator_args(emulator_process), emulator_env(emulator_process)
    ) as own:
        async with own.client() as client:
            voice = SynthesizeVoice(name="aura-2-en-luna")
            await client.write_event(SynthesizeStart(voice=voice).event())
            assert await open_websockets_reach(emulator_process, AURA_2_EN, 1)
            await client.write_event(SynthesizeChunk(text="The weather is sunny today.").event())
            await client.write_event(SynthesizeStop().event())
            events = await read_until(client, ["synthesize-stopped"])
        assert "audio-chunk" in [e.type for e in events]
        assert "error" not in [e.type for e in events]


async def test_a_voice_command_leaves_a_websocket_open_for_its_reply(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    # Spares of other tests' servers on the shared emulator expire within SPARE_IDLE_S.
    assert await open_websockets_reach(emulator_process, AURA_2_EN, 0)
    async with ServerProcess(
        emulator_args(emulator_process), emulator_env(emulator_process)
    ) as own:
        await transcribe_light(own, speech_dir, NOVA_3)
        # The default voice's WebSocket opens once the transcript is out, before the reply...
        assert await open_websockets_reach(emulator_process, AURA_2_EN, 1)
        async with own.client() as client:
            await client.write_event(
                SynthesizeStart(voice=SynthesizeVoice(name="aura-2-en-luna")).event()
            )
            # ...and the reply takes it instead of opening a second one.
            for _ in range(10):
                stats = await emulator_process.network_stats()
                assert stats["open_websockets"].get(AURA_2_EN, 0) <= 1
                await asyncio.sleep(0.1)
            await client.write_event(SynthesizeChunk(text="The weather is sunny today.").event())
            await client.write_event(SynthesizeStop().event())
            events = await read_until(client, ["synthesize-stopped"])
        assert "audio-chunk" in [e.type for e in events]
        assert "error" not in [e.type for e in events]


async def test_no_spare_websockets_leaves_nothing_open_after_a_voice_command(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """``--no-spare-websockets``: after the transcript no aura WebSocket is opened."""
    # Spares of other tests' servers on the shared emulator expire within SPARE_IDLE_S.
    assert await open_websockets_reach(emulator_process, AURA_2_EN, 0)
    async with ServerProcess(
        emulator_args(emulator_process, "--no-spare-websockets"), emulator_env(emulator_process)
    ) as own:
        await transcribe_light(own, speech_dir, NOVA_3)
        # A spare would open within the poll window of the test above; none may here.
        assert not await open_websockets_reach(emulator_process, AURA_2_EN, 1)
