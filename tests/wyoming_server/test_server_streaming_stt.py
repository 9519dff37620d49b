"""Streaming speech to text over the nova-3 and flux WebSockets (issue #3).

The client keeps sending audio (real speech, then silence) while it reads, exactly like a
satellite whose microphone is still open, and only sends ``audio-stop`` after the server has
answered. Nothing is asserted about speed: the silence loop is a hang guard.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping

from tests.wyoming_server.server_harness import (
    EVENT_TIMEOUT,
    ServerProcess,
    audio_events,
    emulator_args,
    emulator_env,
    normalize,
    read_until,
    read_wav,
    types,
)
from wyoming_server.emulator import EmulatorProcess

pytest_plugins = ["tests.wyoming_server.server_fixtures"]

LIGHT = "turn on the living room light"
RATE = 16000
CHUNK = RATE // 10  # 100 ms of audio per audio-chunk
MAX_SILENCE_CHUNKS = 300  # 30 s of silence at most before the test gives up (hang guard)


async def speak_then_wait(
    client: AsyncTcpClient, wav: Path, model: str | None, until: str
) -> tuple[list[Event], int]:
    """Send speech chunk by chunk, then silence, until an ``until`` event arrives.

    Returns the events read and how many silence chunks were sent before it arrived.
    """
    pcm, rate, width, channels = read_wav(wav)
    assert (rate, width, channels) == (RATE, 2, 1)
    await client.write_event(Transcribe(name=model, language="en").event())
    await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
    reader = asyncio.create_task(read_until(client, [until], timeout=EVENT_TIMEOUT))
    for start in range(0, len(pcm), CHUNK * 2):
        chunk = AudioChunk(rate=RATE, width=2, channels=1, audio=pcm[start : start + CHUNK * 2])
        await client.write_event(chunk.event())
        await asyncio.sleep(0.02)  # a little slower than instant, like a live microphone
    silence = AudioChunk(rate=RATE, width=2, channels=1, audio=bytes(CHUNK * 2)).event()
    sent = 0
    while not reader.done() and sent < MAX_SILENCE_CHUNKS:
        await client.write_event(silence)
        sent += 1
        await asyncio.sleep(0.05)
    return await reader, sent


async def test_nova3_transcript_chunks_arrive_before_audio_stop(
    server: ServerProcess, speech_dir: Path
) -> None:
    async with server.client() as client:
        early, _ = await speak_then_wait(
            client,
            speech_dir / "living_room_light_en.wav",
            "@cf/deepgram/nova-3",
            until="transcript-chunk",
        )
        # The chunk came while audio was still flowing; only now does the audio end.
        await client.write_event(AudioStop().event())
        late = await read_until(client, ["transcript-stop"])
    events = early + late
    assert types(events)[:2] == ["transcript-start", "transcript-chunk"]
    assert "audio-stop" not in types(events)
    [transcript] = [e for e in events if e.type == "transcript"]
    assert normalize(transcript.data["text"]) == LIGHT
    chunks = "".join(e.data["text"] for e in events if e.type == "transcript-chunk")
    assert chunks == transcript.data["text"]  # chunks are deltas that add up to the transcript
    assert types(events)[-2:] == ["transcript", "transcript-stop"]


async def test_flux_ends_the_turn_on_silence_before_audio_stop(
    server: ServerProcess, speech_dir: Path
) -> None:
    async with server.client() as client:
        early, _ = await speak_then_wait(
            client, speech_dir / "living_room_light_en.wav", "@cf/deepgram/flux", until="transcript"
        )
        [transcript] = [e for e in early if e.type == "transcript"]
        assert normalize(transcript.data["text"]) == LIGHT
        # More audio after the turn ended is ignored; audio-stop gets no second transcript.
        silence = AudioChunk(rate=RATE, width=2, channels=1, audio=bytes(CHUNK * 2)).event()
        await client.write_event(silence)
        await client.write_event(AudioStop().event())
        await client.write_event(Ping(text="after").event())
        late = await read_until(client, ["pong"])
    assert types(late) == ["transcript-stop", "pong"]


async def test_dropped_websocket_gives_error_and_partial_transcript(
    server: ServerProcess, emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """The WebSocket dies mid-utterance: error + what was heard, never a hang."""
    pcm, rate, width, channels = read_wav(speech_dir / "living_room_light_en.wav")
    for model, drop_after in (("@cf/deepgram/nova-3", 1), ("@cf/deepgram/flux", 2)):
        await emulator_process.set_faults(ws_drop_after_messages=drop_after)
        async with server.client() as client:
            await client.write_event(Transcribe(name=model, language="en").event())
            for event in audio_events(pcm + bytes(RATE), rate, width, channels):
                await client.write_event(event)
            events = await read_until(client, ["transcript-stop"])
        kinds = types(events)
        assert "error" in kinds, (model, kinds)
        [error] = [e for e in events if e.type == "error"]
        assert error.data["code"].startswith(("stream-closed", "timeout")), error.data
        [transcript] = [e for e in events if e.type == "transcript"]
        # Partial: some prefix of what was said (maybe nothing), never invented text.
        assert LIGHT.startswith(normalize(transcript.data["text"])), transcript.data
        assert kinds[-2:] == ["transcript", "transcript-stop"]
    await emulator_process.reset_faults()
    # The next utterance on a healthy WebSocket works again.
    async with server.client() as client:
        await client.write_event(Transcribe(name="@cf/deepgram/nova-3", language="en").event())
        for event in audio_events(pcm, rate, width, channels):
            await client.write_event(event)
        events = await read_until(client, ["transcript-stop"])
    assert normalize(next(e for e in events if e.type == "transcript").data["text"]) == LIGHT


async def test_flux_as_default_model_with_end_of_turn_options(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """HA never names a model: ``--stt-model flux`` plus the flux and key-term flags."""
    args = emulator_args(
        emulator_process,
        "--stt-model",
        "flux",
        "--flux-eot-threshold",
        "0.8",
        "--flux-eager-eot-threshold",
        "0.5",
        "--flux-eot-timeout-ms",
        "3000",
        "--keyterm",
        "living room",
    )
    async with (
        ServerProcess(args, emulator_env(emulator_process)) as server,
        server.client() as client,
    ):
        # Flux ends turns itself: HA (2026.10, wyoming 1.10) must not cut the audio by VAD.
        await client.write_event(Describe().event())
        info = Info.from_event((await read_until(client, ["info"]))[-1])
        assert info.asr[0].models[0].name == "@cf/deepgram/flux"
        assert info.asr[0].requires_external_vad is False
        early, _ = await speak_then_wait(
            client, speech_dir / "living_room_light_en.wav", None, until="transcript"
        )
        await client.write_event(AudioStop().event())
        late = await read_until(client, ["transcript-stop"])
    assert "error" not in types(early + late)
    [transcript] = [e for e in early if e.type == "transcript"]
    assert normalize(transcript.data["text"]) == LIGHT


async def test_a_turn_that_never_ends_is_finished_after_max_utterance_seconds(
    emulator_process: EmulatorProcess,
) -> None:
    """Only silence: flux never ends the turn, so the server does, by audio duration."""
    args = emulator_args(emulator_process, "--stt-model", "flux", "--max-utterance-seconds", "2")
    silence = AudioChunk(rate=RATE, width=2, channels=1, audio=bytes(CHUNK * 2)).event()
    async with (
        ServerProcess(args, emulator_env(emulator_process)) as server,
        server.client() as client,
    ):
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
        for _ in range(30):  # 3 s of audio, more than the limit
            await client.write_event(silence)
        events = await read_until(client, ["transcript-stop"])
        await client.write_event(AudioStop().event())
        await client.write_event(Ping().event())
        after = await read_until(client, ["pong"])
    # The cut is told after the transcript (see test_server_truncation.py).
    assert types(events) == ["transcript-start", "transcript", "error", "transcript-stop"]
    assert events[1].data["text"] == ""
    assert events[2].data["code"] == "utterance-truncated"
    assert types(after) == ["pong"]


async def test_nova3_utterances_are_not_cut_at_max_utterance_seconds(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """nova-3 relies on the client's VAD to end the audio: the flux turn limit does not apply
    (every model's limit is --max-audio-seconds, tested in test_server_limits.py)."""
    args = emulator_args(emulator_process, "--stt-model", "nova-3", "--max-utterance-seconds", "1")
    pcm, _, _, _ = read_wav(speech_dir / "living_room_light_en.wav")
    async with (
        ServerProcess(args, emulator_env(emulator_process)) as server,
        server.client() as client,
    ):
        await client.write_event(Transcribe(language="en").event())
        for event in audio_events(pcm, RATE, 2, 1, CHUNK):  # audio-start ... audio-stop
            await client.write_event(event)
        events = await read_until(client, ["transcript-stop"])
    [transcript] = [e for e in events if e.type == "transcript"]
    assert normalize(transcript.data["text"]) == LIGHT


async def test_bad_chunk_after_transcript_chunks_keeps_the_partial_text(
    server: ServerProcess, speech_dir: Path
) -> None:
    """A failure mid-utterance ends it with the text already sent as chunks, not less."""
    async with server.client() as client:
        early, _ = await speak_then_wait(
            client,
            speech_dir / "living_room_light_en.wav",
            "@cf/deepgram/nova-3",
            until="transcript-chunk",
        )
        bad = Event(type="audio-chunk", data={"rate": "fast", "width": 2, "channels": 1})
        await client.write_event(bad)
        await client.write_event(AudioStop().event())
        await client.write_event(Ping(text="after").event())
        late = await read_until(client, ["pong"])
    events = early + late
    assert types(late)[-4:] == ["error", "transcript", "transcript-stop", "pong"]
    assert late[-4].data["code"] == "unsupported-audio-format"
    chunks = "".join(e.data["text"] for e in events if e.type == "transcript-chunk")
    [transcript] = [e for e in events if e.type == "transcript"]
    assert chunks
    assert transcript.data["text"] == chunks
