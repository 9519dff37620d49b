"""The command line and process lifecycle: credentials, secrets in logs, stdout, signals."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart
from wyoming.event import async_read_event, async_write_event
from wyoming.info import Describe
from wyoming.ping import Ping
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.wyoming_server.server_harness import (
    ServerProcess,
    audio_events,
    clean_env,
    emulator_args,
    emulator_env,
    normalize,
    read_until,
    read_wav,
)
from wyoming_server import __version__
from wyoming_server.emulator import EmulatorProcess

pytest_plugins = ["tests.wyoming_server.server_fixtures"]

LIGHT = "turn on the living room light"


async def transcribe(server: ServerProcess, wav: Path, model: str) -> str:
    pcm, rate, width, channels = read_wav(wav)
    async with server.client() as client:
        await client.write_event(Transcribe(name=model, language="en").event())
        for event in audio_events(pcm, rate, width, channels):
            await client.write_event(event)
        events = await read_until(client, ["transcript"])
    return normalize(events[-1].data["text"])


async def synthesize(server: ServerProcess, voice: str) -> list[str]:
    async with server.client() as client:
        await client.write_event(
            Synthesize(text="Hello there. Bye.", voice=SynthesizeVoice(voice)).event()
        )
        return [e.type for e in await read_until(client, ["audio-stop"])]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wyoming_server", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


async def test_token_never_logged_even_with_debug(
    emulator_process: EmulatorProcess, speech_dir: Path, tmp_path: Path
) -> None:
    wav = speech_dir / "living_room_light_en.wav"
    good = emulator_process.api_token
    async with ServerProcess(
        emulator_args(emulator_process, "--debug"), emulator_env(emulator_process)
    ) as server:
        assert await transcribe(server, wav, "@cf/deepgram/nova-3") == LIGHT
        assert await transcribe(server, wav, "@cf/openai/whisper") == LIGHT
        assert "error" not in await synthesize(server, "aura-2-en-luna")
        assert "error" not in await synthesize(server, "melotts-en")
        assert "DEBUG" in server.stderr
    assert server.returncode == 0
    assert good not in server.stderr
    assert server.stdout == b""

    wrong = "wrong-token-that-must-not-leak-12345678"
    token_file = tmp_path / "token"
    token_file.write_text(f"{wrong}\n")
    env = {"CLOUDFLARE_ACCOUNT_ID": emulator_process.account_id}
    async with ServerProcess(
        emulator_args(emulator_process, "--debug", "--api-token-file", str(token_file)), env
    ) as server:
        assert await transcribe(server, wav, "@cf/openai/whisper") == ""
        assert await transcribe(server, wav, "@cf/deepgram/flux") == ""
        assert "error" in await synthesize(server, "aura-1-angus")
        assert "authentication" in server.stderr.lower()
    assert wrong not in server.stderr
    assert server.stdout == b""


async def test_token_file_is_used(
    emulator_process: EmulatorProcess, speech_dir: Path, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(emulator_process.api_token)
    env = {"CLOUDFLARE_ACCOUNT_ID": emulator_process.account_id, "CLOUDFLARE_API_TOKEN": "stale"}
    args = emulator_args(emulator_process, "--api-token-file", str(token_file))
    async with ServerProcess(args, env) as server:
        wav = speech_dir / "living_room_light_en.wav"
        assert await transcribe(server, wav, "@cf/openai/whisper-tiny-en") == LIGHT


async def test_without_credentials_the_embedded_emulator_is_used(speech_dir: Path) -> None:
    async with ServerProcess(timeout=120) as server:
        assert (
            "No Cloudflare credentials: using the embedded Workers AI emulator at "
            "http://127.0.0.1:" in server.stderr
        )
        wav = speech_dir / "living_room_light_en.wav"
        assert await transcribe(server, wav, "@cf/openai/whisper") == LIGHT
    assert server.returncode == 0
    assert server.stdout == b""


async def test_sigterm_mid_utterance_exits_cleanly(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    pcm, rate, width, channels = read_wav(speech_dir / "living_room_light_en.wav")
    async with ServerProcess(
        emulator_args(emulator_process), emulator_env(emulator_process)
    ) as own:
        async with own.client() as client:
            await client.write_event(Transcribe(name="@cf/deepgram/nova-3").event())
            await client.write_event(AudioStart(rate=rate, width=width, channels=channels).event())
            await client.write_event(
                AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[:16000]).event()
            )
            await client.write_event(Ping().event())
            await read_until(client, ["pong"])  # the utterance is open
            assert await own.stop() == 0
            # The server told the client instead of leaving it hanging, then closed.
            events = await read_until(client, ["transcript-stop"], 30)
            assert events[0].data["code"] == "server-stopping"
            assert await asyncio.wait_for(client.read_event(), 30) is None
        assert "Stopping" in own.stderr


async def test_stdio_transport(emulator_process: EmulatorProcess) -> None:
    env = {**clean_env(), **emulator_env(emulator_process)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wyoming_server",
        "--uri",
        "stdio://",
        *emulator_args(emulator_process),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    assert process.stdin is not None and process.stdout is not None
    await async_write_event(Describe().event(), process.stdin)
    event = await asyncio.wait_for(async_read_event(process.stdout), 60)
    assert event is not None and event.type == "info"
    process.stdin.close()
    assert await asyncio.wait_for(process.wait(), 30) == 0


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == __version__


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stt-model", "nova-9"], "--stt-model"),
        (["--stt-model", "aura-2-en"], "--stt-model"),
        (["--tts-voice", "aura-2-en-nobody"], "--tts-voice"),
        (["--stt-model", "flux", "--language", "de"], "--language"),
        (["--flux-eot-threshold", "0.95"], "--flux-eot-threshold"),
    ],
)
def test_bad_options_exit_with_a_message(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_incomplete_credentials_exit_with_a_message(tmp_path: Path) -> None:
    env = {**clean_env(), "CLOUDFLARE_ACCOUNT_ID": "0" * 32}
    result = run_cli("--uri", "tcp://127.0.0.1:0", env=env)
    assert result.returncode == 2
    assert "no API token" in result.stderr

    empty = tmp_path / "empty"
    empty.write_text("\n")
    result = run_cli("--uri", "tcp://127.0.0.1:0", "--api-token-file", str(empty), env=env)
    assert result.returncode == 2
    assert "is empty" in result.stderr


async def test_streaming_can_be_turned_off(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """``--no-stt-streaming``: nova-3 over REST; ``--no-tts-streaming``: aura over REST."""
    args = emulator_args(emulator_process, "--no-stt-streaming", "--no-tts-streaming", "--debug")
    async with ServerProcess(args, emulator_env(emulator_process)) as server:
        wav = speech_dir / "turn_on_the_living_room_lamp.wav"
        assert (
            await transcribe(server, wav, "@cf/deepgram/nova-3") == "turn on the living room lamp"
        )
        kinds = await synthesize(server, "aura-2-en-luna")
        assert kinds[0] == "audio-start" and kinds[-1] == "audio-stop"
        assert set(kinds[1:-1]) == {"audio-chunk"}
        assert "POST @cf/deepgram/nova-3" in server.stderr
        assert "POST @cf/deepgram/aura-2-en" in server.stderr
