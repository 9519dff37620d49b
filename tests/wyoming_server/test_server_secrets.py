"""The API token never leaves the process: not in logs (DEBUG), events, errors or reprs.

The emulator here accepts a recognisable canary token. Whole flows (STT over REST and the
WebSocket, TTS over the WebSocket and REST, Workers AI failures, a rejected token) run against a
server started with ``--debug``; then the canary is searched everywhere the server writes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from wyoming.asr import Transcribe
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from tests.wyoming_server.server_harness import (
    ServerProcess,
    audio_events,
    emulator_args,
    read_until,
    read_wav,
)
from wyoming_server.credentials import load_credentials
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.server.cli import parse_args
from wyoming_server.workers_ai import WorkersAIClient

CANARY = "CanaryTok3n-do-not-leak-4f9d2c1b7a6e5d4c"
"""A token shaped like a Cloudflare API token (40 characters), easy to find."""
WRONG_CANARY = "WrongCanaryTok3n-never-leak-0a1b2c3d4e5f"
PIECES = (CANARY, CANARY[:16], CANARY[-16:], WRONG_CANARY, WRONG_CANARY[:16])
"""The tokens and distinctive parts of them (a partial leak is a leak)."""


def assert_no_secret(text: str, where: str) -> None:
    for piece in PIECES:
        assert piece not in text, f"token piece {piece!r} found in {where}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def canary_emulator() -> AsyncIterator[EmulatorProcess]:
    async with EmulatorProcess(api_token=CANARY, preload=True) as proc:
        yield proc


def env_for(emulator: EmulatorProcess, token: str) -> dict[str, str]:
    return {"CLOUDFLARE_ACCOUNT_ID": emulator.account_id, "CLOUDFLARE_API_TOKEN": token}


async def exchange(server: ServerProcess, events: list[Event], stop: str) -> list[Event]:
    async with server.client() as client:
        for event in events:
            await client.write_event(event)
        return await read_until(client, [stop])


async def run_flows(server: ServerProcess, emulator: EmulatorProcess, wav: Path) -> list[Event]:
    pcm, rate, width, channels = read_wav(wav)
    speech = audio_events(pcm, rate, width, channels)
    answers = await exchange(server, [Describe().event()], "info")
    for model in ("@cf/openai/whisper", "@cf/deepgram/nova-3", "@cf/deepgram/flux"):
        request = [Transcribe(name=model, language="en").event(), *speech]
        answers += await exchange(server, request, "transcript-stop")
    for voice in ("aura-2-en-luna", "melotts-en"):
        request = [Synthesize(text="Hello there.", voice=SynthesizeVoice(name=voice)).event()]
        answers += await exchange(server, request, "audio-stop")
    streamed = [
        SynthesizeStart().event(),
        SynthesizeChunk(text="Hello there. How are you?").event(),
        SynthesizeStop().event(),
    ]
    answers += await exchange(server, streamed, "synthesize-stopped")
    # Workers AI failures: a server error, a rate limit, a dropped WebSocket.
    await emulator.set_faults(fail_next=3, status=500, code=3001)
    request = [Transcribe(name="@cf/openai/whisper", language="en").event(), *speech]
    answers += await exchange(server, request, "transcript-stop")
    await emulator.set_faults(fail_next=1, status=429, code=3040)
    answers += await exchange(server, [Synthesize(text="Hi.").event()], "audio-stop")
    await emulator.set_faults(ws_drop_after_messages=1)
    request = [Transcribe(name="@cf/deepgram/nova-3", language="en").event(), *speech]
    answers += await exchange(server, request, "transcript-stop")
    await emulator.reset_faults()
    return answers


def event_text(events: list[Event]) -> str:
    return "\n".join(repr(event) for event in events)


async def test_token_appears_nowhere_at_debug(
    canary_emulator: EmulatorProcess, speech_dir: Path
) -> None:
    wav = speech_dir / "living_room_light_en.wav"
    args = emulator_args(canary_emulator, "--debug")
    outputs: list[tuple[str, str, list[Event]]] = []
    async with ServerProcess(args, env_for(canary_emulator, CANARY)) as server:
        answers = await run_flows(server, canary_emulator, wav)
        assert any(e.type == "transcript" and e.data.get("text") for e in answers)
        assert any(e.type == "error" for e in answers)  # the failure flows did fail
        outputs.append((server.stderr, server.stdout.decode(errors="replace"), answers))
    async with ServerProcess(args, env_for(canary_emulator, WRONG_CANARY)) as rejected:
        answers = await run_flows(rejected, canary_emulator, wav)
        codes = [e.data.get("code", "") for e in answers if e.type == "error"]
        assert any(code.startswith("authentication-error") for code in codes)
        outputs.append((rejected.stderr, rejected.stdout.decode(errors="replace"), answers))
    for log, stdout, events in outputs:
        assert "DEBUG" in log  # DEBUG logging was on
        assert_no_secret(log, "the server log")
        assert_no_secret(stdout, "stdout")
        assert_no_secret(event_text(events), "a Wyoming event")


async def test_token_stays_out_of_reprs_and_exceptions(
    canary_emulator: EmulatorProcess, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(CANARY + "\n")
    token_file.chmod(0o600)
    args, settings = parse_args(["--api-token-file", str(token_file)])
    credentials = load_credentials(
        {"CLOUDFLARE_ACCOUNT_ID": canary_emulator.account_id}, api_token_file=token_file
    )
    assert credentials is not None
    assert credentials.api_token == CANARY
    async with aiohttp.ClientSession() as session:
        client = WorkersAIClient(
            session,
            canary_emulator.account_id,
            WRONG_CANARY,
            api_base_url=canary_emulator.base_url,
        )
        with pytest.raises(Exception) as caught:
            await client.verify()
        texts = [repr(args), repr(settings), repr(credentials), repr(client), str(client)]
        error: BaseException | None = caught.value
        while error is not None:  # the whole chain, as a traceback would show it
            texts += [str(error), repr(error), repr(getattr(error, "args", ()))]
            error = error.__cause__ or error.__context__
    for text in texts:
        assert_no_secret(text, text[:60])


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o640, True), (0o600, False)])
async def test_token_file_readable_by_others_is_warned_about(
    canary_emulator: EmulatorProcess, tmp_path: Path, mode: int, warned: bool
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(CANARY)
    os.chmod(token_file, mode)
    args = emulator_args(canary_emulator, "--api-token-file", str(token_file))
    env = {"CLOUDFLARE_ACCOUNT_ID": canary_emulator.account_id}
    async with ServerProcess(args, env) as server:
        await asyncio.sleep(0)  # the check runs before Ready
        log = server.stderr
    assert ("readable by other users" in log) is warned
    assert_no_secret(log, "the server log")
