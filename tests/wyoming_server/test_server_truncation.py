"""An utterance cut at ``--max-audio-seconds`` keeps what was said and says it was cut.

Real Wyoming client → server subprocess (``--metrics-port``) → emulator, audio sent faster than
real time and never ended by ``audio-stop`` (a stuck microphone). For every model and transport
the client must get, in this order: the ``transcript`` of the audio within the limit, an
``error`` with code ``utterance-truncated``, ``transcript-stop``. Home Assistant's Wyoming
speech-to-text returns an error result at the first ``error`` it reads, so an ``error`` before
the ``transcript`` would lose the command
(https://github.com/home-assistant/core/blob/dev/homeassistant/components/wyoming/stt.py). The
owner gets a WARNING log line and ``wyoming_stt_truncated_total{model}``; nothing past the
limit is billed (``workers_ai_audio_seconds_total``).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp
import pytest
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.event import Event

from tests.wyoming_server.server_harness import (
    ServerProcess,
    emulator_args,
    emulator_env,
    normalize,
    read_until,
    read_wav,
    types,
)
from tests.wyoming_server.test_server_latency import samples
from tests.wyoming_server.test_server_vocabulary import free_port
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import catalog

RATE = 16000
CHUNK_BYTES = RATE // 10 * 2  # 100 ms per audio-chunk
LIMIT_S = 4.05
"""--max-audio-seconds: longer than the 2.4 s command, far shorter than the stream, and not a
whole number of 100 ms chunks (the chunk that crosses it must be cut)."""
STREAM_S = 600
"""Seconds of audio the client would send: ten minutes of near-silence after the command."""
LIGHT = "turn on the living room light"


async def send_stream(client: AsyncTcpClient, pcm: bytes, pause: float = 0.0) -> None:
    """``audio-start``, ``pcm`` then near-silence up to :data:`STREAM_S`, as fast as the
    connection takes it (or ``pause`` seconds after each 100 ms chunk); never ``audio-stop``."""
    await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
    audio = pcm + bytes(STREAM_S * RATE * 2 - len(pcm))
    for start in range(0, len(audio), CHUNK_BYTES):
        chunk = AudioChunk(rate=RATE, width=2, channels=1, audio=audio[start:][:CHUNK_BYTES])
        await client.write_event(chunk.event())
        await asyncio.sleep(pause)


async def cut_utterance(
    emulator: EmulatorProcess, model: str, pcm: bytes, *flags: str
) -> tuple[list[Event], str, str]:
    """The events up to ``transcript-stop``, the metrics exposition and the server log."""
    port = free_port()
    args = emulator_args(
        emulator,
        "--max-audio-seconds",
        str(LIMIT_S),
        "--metrics-port",
        str(port),
        "--metrics-host",
        "127.0.0.1",
        *flags,
    )
    async with ServerProcess(args, emulator_env(emulator)) as server:
        async with server.client() as client:
            await client.write_event(Transcribe(name=model, language="en").event())
            sender = asyncio.create_task(send_stream(client, pcm))
            try:
                events = await read_until(client, ["transcript-stop"])
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await sender
        text = await metrics_once_billed(port, model)
        return events, text, server.stderr


async def metrics_once_billed(port: int, model: str) -> str:
    """The exposition once ``model``'s usage is recorded (a WebSocket's at its close), or
    after 5 s."""
    async with aiohttp.ClientSession() as session:
        for _ in range(50):
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                text = await response.text()
            if samples(text, "workers_ai_audio_seconds_total", model=model):
                break
            await asyncio.sleep(0.1)
    return text


def assert_told_after_transcript(events: list[Event], text: str, log: str, model: str) -> None:
    """transcript → error(utterance-truncated) → transcript-stop; log, metric, billing."""
    assert types(events)[-3:] == ["transcript", "error", "transcript-stop"]
    assert "error" not in types(events)[:-2]  # nothing HA would stop at before the transcript
    assert events[-2].data["code"] == "utterance-truncated"
    assert f"limit {LIMIT_S:g} s" in events[-2].data["text"]
    assert "WARNING" in log and "cut at its limit" in log
    assert samples(text, "wyoming_stt_truncated_total", model=model) == [1.0]
    billed = sum(samples(text, "workers_ai_audio_seconds_total", model=model))
    assert 0 < billed <= LIMIT_S


@pytest.mark.parametrize(
    ("model", "flags"),
    [
        (catalog.WHISPER, ()),
        (catalog.WHISPER_LARGE_V3_TURBO, ()),
        (catalog.WHISPER_TINY_EN, ()),
        (catalog.NOVA_3, ()),  # WebSocket
        (catalog.NOVA_3, ("--no-stt-streaming",)),  # REST
    ],
    ids=["whisper", "whisper-large-v3-turbo", "whisper-tiny-en", "nova-3-ws", "nova-3-rest"],
)
async def test_cut_utterance_keeps_the_command_and_says_it_was_cut(
    emulator_process: EmulatorProcess, speech_dir: Path, model: str, flags: tuple[str, ...]
) -> None:
    pcm, rate, _, _ = read_wav(speech_dir / "living_room_light_en.wav")
    assert rate == RATE
    events, text, log = await cut_utterance(emulator_process, model, pcm, *flags)
    [transcript] = [e for e in events if e.type == "transcript"]
    assert normalize(transcript.data["text"]) == LIGHT
    assert_told_after_transcript(events, text, log, model)


async def test_flux_turn_that_never_ends_is_cut_and_says_so(
    emulator_process: EmulatorProcess,
) -> None:
    """Silence only: flux never sends ``EndOfTurn``, the limit ends the turn."""
    events, text, log = await cut_utterance(emulator_process, catalog.FLUX, b"")
    [transcript] = [e for e in events if e.type == "transcript"]
    assert transcript.data["text"] == ""
    assert_told_after_transcript(events, text, log, catalog.FLUX)


async def test_flux_end_of_turn_within_the_limit_is_not_reported_as_cut(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """The command then silence at twice real time: flux ends the turn itself before its 15 s
    turn limit; no notice."""
    pcm, _, _, _ = read_wav(speech_dir / "living_room_light_en.wav")
    args = emulator_args(emulator_process, "--max-audio-seconds", "60")
    async with ServerProcess(args, emulator_env(emulator_process)) as server:
        async with server.client() as client:
            await client.write_event(Transcribe(name=catalog.FLUX, language="en").event())
            sender = asyncio.create_task(send_stream(client, pcm, 0.05))
            try:
                events = await read_until(client, ["transcript-stop"])
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await sender
        log = server.stderr
    assert normalize(events[-2].data["text"]) == LIGHT
    assert "error" not in types(events)
    assert "cut at its limit" not in log


async def test_home_assistant_wyoming_client_gets_the_command_of_a_cut_utterance(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """Home Assistant 2026.10's own reader (``_async_receive_result`` of its Wyoming
    speech-to-text) returns success with the command, not the error result it gives at an
    ``error`` read before the ``transcript``."""
    ha_wyoming = pytest.importorskip("homeassistant.components.wyoming.stt")  # Python 3.14
    stt = pytest.importorskip("homeassistant.components.stt")

    pcm, _, _, _ = read_wav(speech_dir / "living_room_light_en.wav")
    args = emulator_args(emulator_process, "--max-audio-seconds", str(LIMIT_S))
    async with (
        ServerProcess(args, emulator_env(emulator_process)) as server,
        server.client() as client,
    ):
        await client.write_event(Transcribe(language="en").event())  # as HA: no name
        sender = asyncio.create_task(send_stream(client, pcm))
        try:
            result = await asyncio.wait_for(ha_wyoming._async_receive_result(client), 60)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
    assert result.result is stt.SpeechResultState.SUCCESS
    assert result.text is not None
    assert normalize(result.text) == LIGHT
