"""``Transcribe.vad_sensitivity`` (wyoming 1.10) and the ASR program's VAD flags, end to end.

A real Wyoming client sends ``transcribe`` with a sensitivity and real speech to the real server
(a child process) on the emulator; the emulator's handshake log shows which end-of-speech query
parameters reached "Workers AI". The expected values come from the documented table
(``VAD_SENSITIVITY_TABLE``), not from the code's arithmetic.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info

from tests.wyoming_server.server_harness import (
    EVENT_TIMEOUT,
    ServerProcess,
    emulator_args,
    emulator_env,
    normalize,
    read_until,
    read_wav,
)
from wyoming_server.emulator import EmulatorProcess

pytest_plugins = ["tests.wyoming_server.server_fixtures"]

FLUX = "@cf/deepgram/flux"
NOVA_3 = "@cf/deepgram/nova-3"
LIGHT = "turn on the living room light"
RATE = 16000
CHUNK = RATE // 10  # 100 ms per audio-chunk
MAX_SILENCE_CHUNKS = 300  # hang guard


async def transcribe(
    client: AsyncTcpClient, wav: Path, model: str, sensitivity: str | None
) -> list[Event]:
    """``transcribe`` (with ``vad_sensitivity``), speech, then silence until ``transcript``
    (flux ends the turn itself) or, for nova-3, ``audio-stop`` after the speech."""
    pcm, rate, width, channels = read_wav(wav)
    assert (rate, width, channels) == (RATE, 2, 1)
    data: dict[str, Any] = Transcribe(name=model, language="en").event().data or {}
    if sensitivity is not None:
        data["vad_sensitivity"] = sensitivity  # raw, so it works with any installed wyoming
    await client.write_event(Event("transcribe", data))
    await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
    reader = asyncio.create_task(read_until(client, ["transcript"], timeout=EVENT_TIMEOUT))
    for start in range(0, len(pcm), CHUNK * 2):
        chunk = AudioChunk(rate=RATE, width=2, channels=1, audio=pcm[start : start + CHUNK * 2])
        await client.write_event(chunk.event())
        await asyncio.sleep(0.02)
    silence = AudioChunk(rate=RATE, width=2, channels=1, audio=bytes(CHUNK * 2)).event()
    for _ in range(MAX_SILENCE_CHUNKS if model == FLUX else 10):
        if reader.done():
            break
        await client.write_event(silence)
        await asyncio.sleep(0.05)
    if not reader.done():
        await client.write_event(AudioStop().event())
    events = await reader
    if model == FLUX:
        await client.write_event(AudioStop().event())
    return events


def last_query(handshakes: list[dict[str, Any]], model: str) -> dict[str, list[str]]:
    queries = [h["query"] for h in handshakes if h["model"] == model]
    assert queries, f"no {model} WebSocket reached the emulator: {handshakes}"
    return dict(queries[-1])


def transcript_text(events: list[Event]) -> str:
    return normalize(str((events[-1].data or {}).get("text", "")))


@pytest.mark.parametrize(
    ("sensitivity", "eot_threshold", "eot_timeout_ms"),
    [("relaxed", "0.8", "10000"), ("aggressive", "0.6", "2500")],
)
async def test_flux_gets_the_end_of_turn_of_the_sensitivity(
    server: ServerProcess,
    emulator_process: EmulatorProcess,
    speech_dir: Path,
    sensitivity: str,
    eot_threshold: str,
    eot_timeout_ms: str,
) -> None:
    await emulator_process.handshakes(reset=True)
    async with server.client() as client:
        events = await transcribe(
            client, speech_dir / "living_room_light_en.wav", FLUX, sensitivity
        )
    assert transcript_text(events) == LIGHT
    query = last_query(await emulator_process.handshakes(), FLUX)
    assert query.get("eot_threshold") == [eot_threshold]
    assert query.get("eot_timeout_ms") == [eot_timeout_ms]


@pytest.mark.parametrize(
    ("sensitivity", "endpointing"), [("relaxed", "600"), ("aggressive", "150")]
)
async def test_nova3_gets_the_endpointing_of_the_sensitivity(
    server: ServerProcess,
    emulator_process: EmulatorProcess,
    speech_dir: Path,
    sensitivity: str,
    endpointing: str,
) -> None:
    await emulator_process.handshakes(reset=True)
    async with server.client() as client:
        events = await transcribe(
            client, speech_dir / "living_room_light_en.wav", NOVA_3, sensitivity
        )
    assert transcript_text(events) == LIGHT
    assert last_query(await emulator_process.handshakes(), NOVA_3).get("endpointing") == [
        endpointing
    ]


@pytest.mark.parametrize("sensitivity", [None, "default", "sloppy", 7])
async def test_default_absent_or_unknown_sensitivity_keeps_the_workers_ai_defaults(
    server: ServerProcess, emulator_process: EmulatorProcess, speech_dir: Path, sensitivity: Any
) -> None:
    """The session server has no ``--flux-*`` flags: nothing is sent, and an unknown value is
    logged and treated as ``default`` (no error)."""
    await emulator_process.handshakes(reset=True)
    async with server.client() as client:
        events = await transcribe(
            client, speech_dir / "living_room_light_en.wav", FLUX, sensitivity
        )
    assert [e.type for e in events if e.type == "error"] == []
    assert transcript_text(events) == LIGHT
    query = last_query(await emulator_process.handshakes(), FLUX)
    assert "eot_threshold" not in query
    assert "eot_timeout_ms" not in query
    if sensitivity in ("sloppy", 7):
        assert f"Unknown vad_sensitivity {sensitivity!r}" in server.stderr or (
            f"Unknown vad_sensitivity {repr(sensitivity)!r}" in server.stderr
        )


async def test_sensitivity_overrides_the_flux_flags_and_keeps_eager_below_eot(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """``--flux-eager-eot-threshold 0.7`` would exceed the aggressive ``eot_threshold`` 0.6
    (Deepgram refuses that): it is lowered to 0.6."""
    args = emulator_args(
        emulator_process, "--flux-eot-threshold", "0.75", "--flux-eager-eot-threshold", "0.7"
    )
    await emulator_process.handshakes(reset=True)
    async with (
        ServerProcess(args, emulator_env(emulator_process)) as server,
        server.client() as client,
    ):
        events = await transcribe(
            client, speech_dir / "living_room_light_en.wav", FLUX, "aggressive"
        )
        assert transcript_text(events) == LIGHT
        default = await transcribe(client, speech_dir / "living_room_light_en.wav", FLUX, "default")
        assert transcript_text(default) == LIGHT
    handshakes = [h["query"] for h in await emulator_process.handshakes() if h["model"] == FLUX]
    assert handshakes[-2]["eot_threshold"] == ["0.6"]
    assert handshakes[-2]["eager_eot_threshold"] == ["0.6"]
    assert handshakes[-1]["eot_threshold"] == ["0.75"]  # default: the server's flags
    assert handshakes[-1]["eager_eot_threshold"] == ["0.7"]


@pytest.mark.parametrize(
    ("stt_model", "requires_external_vad"),
    [("flux", False), ("whisper-large-v3-turbo", True), ("nova-3", True)],
)
async def test_info_says_whether_the_default_model_needs_the_clients_vad(
    emulator_process: EmulatorProcess, stt_model: str, requires_external_vad: bool
) -> None:
    args = emulator_args(emulator_process, "--stt-model", stt_model)
    async with (
        ServerProcess(args, emulator_env(emulator_process)) as server,
        server.client() as client,
    ):
        await client.write_event(Describe().event())
        info = Info.from_event((await read_until(client, ["info"]))[-1])
    assert info.asr[0].requires_external_vad is requires_external_vad


OLD_WYOMING = textwrap.dedent(
    """
    # Simulates a wyoming older than 1.10: AsrProgram without the VAD flags and Transcribe
    # without vad_sensitivity (loaded before the server imports wyoming).
    import dataclasses
    import wyoming.asr
    import wyoming.info

    def _strip(cls, names):
        kept = [
            (f.name, f.type, f)
            for f in dataclasses.fields(cls)
            if f.name not in names
        ]
        old = dataclasses.make_dataclass(cls.__name__, kept, bases=cls.__bases__)
        old.__module__ = cls.__module__
        for name in ("event", "to_dict", "from_event", "from_dict", "is_type"):
            if name in cls.__dict__:
                setattr(old, name, cls.__dict__[name])
        return old

    wyoming.info.AsrProgram = _strip(
        wyoming.info.AsrProgram,
        {"requires_external_vad", "prefers_auto_gain_enabled", "prefers_noise_reduction_enabled"},
    )
    wyoming.asr.Transcribe = _strip(wyoming.asr.Transcribe, {"vad_sensitivity"})
    """
)


async def test_an_older_wyoming_degrades_gracefully_and_says_so(
    emulator_process: EmulatorProcess, speech_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "sitecustomize.py").write_text(OLD_WYOMING)
    env = {**emulator_env(emulator_process), "PYTHONPATH": str(tmp_path)}
    args = emulator_args(emulator_process, "--stt-model", "flux")
    await emulator_process.handshakes(reset=True)
    async with ServerProcess(args, env) as server:
        async with server.client() as client:
            await client.write_event(Describe().event())
            info_event = (await read_until(client, ["info"]))[-1]
            events = await transcribe(
                client, speech_dir / "living_room_light_en.wav", FLUX, "relaxed"
            )
        log = server.stderr
    assert "requires_external_vad" not in (info_event.data or {})["asr"][0]
    assert "The installed wyoming's AsrProgram has no requires_external_vad" in log
    assert "The installed wyoming's Transcribe has no vad_sensitivity" in log
    assert transcript_text(events) == LIGHT
    # Read from the raw event data: the sensitivity still reached flux.
    assert last_query(await emulator_process.handshakes(), FLUX).get("eot_timeout_ms") == ["10000"]


async def test_whisper_over_rest_ignores_the_sensitivity(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """Whisper ends no speech itself (the client's VAD ends the audio): the sensitivity changes
    nothing, opens no WebSocket, and is logged at debug level."""
    turbo = "@cf/openai/whisper-large-v3-turbo"
    await emulator_process.handshakes(reset=True)
    async with (
        ServerProcess(
            emulator_args(emulator_process, "--debug"), emulator_env(emulator_process)
        ) as server,
        server.client() as client,
    ):
        events = await transcribe(client, speech_dir / "living_room_light_en.wav", turbo, "relaxed")
        log = server.stderr
    assert transcript_text(events) == LIGHT
    models = {h["model"] for h in await emulator_process.handshakes()}  # (TTS spares may open)
    assert models.isdisjoint({FLUX, NOVA_3, turbo})
    assert f"{turbo} over REST relies on the client's VAD: vad_sensitivity 'relaxed' ignored" in log
