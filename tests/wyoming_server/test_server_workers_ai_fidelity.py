"""What the real Workers AI does (rows C1-C12 of the project's evidence review), seen through
the Wyoming server: a real Wyoming client → the server subprocess → the emulator subprocess,
which follows that evidence. Workers AI failures are injected with the emulator's faults.

Rows the server cannot show (AI Gateway URLs, nova-3 ``Metadata``, neurons, the flush
``Warning``) are tested on the client in test_workers_ai_fidelity.py.
"""

from __future__ import annotations

import asyncio
import io
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
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
    emulator_env,
    normalize,
    pcm_of,
    read_until,
    read_wav,
    types,
    workers_ai_stand_in,
)
from wyoming_server.emulator import EmulatorProcess

pytest_plugins = ["tests.wyoming_server.server_fixtures"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def _server_without_spares(
    _emulator_process_session: EmulatorProcess,
) -> AsyncIterator[ServerProcess]:
    proc = _emulator_process_session
    # Shared by the module's tests: no breaker opened by one test's faults (see server_fixtures).
    args = emulator_args(proc, "--no-spare-websockets", "--breaker-failures", "1000000")
    async with ServerProcess(args, emulator_env(proc)) as own:
        yield own


@pytest.fixture
def server(
    _server_without_spares: ServerProcess, emulator_process: EmulatorProcess
) -> ServerProcess:
    """A server that opens no aura WebSocket ahead of time: every request below makes its own
    calls, so each injected fault meets the request it is meant for."""
    return _server_without_spares


LIGHT = "turn on the living room light"
LAMP = "turn on the living room lamp"
NOVA_3 = "@cf/deepgram/nova-3"
FLUX = "@cf/deepgram/flux"
WHISPER = "@cf/openai/whisper"
STT_FAILED = ["error", "transcript-start", "transcript", "transcript-stop"]


async def transcribe_pcm(
    server: ServerProcess, pcm: bytes, rate: int, width: int, channels: int, model: str
) -> list[Event]:
    async with server.client() as client:
        await client.write_event(Transcribe(name=model, language="en").event())
        for event in audio_events(pcm, rate, width, channels):
            await client.write_event(event)
        return await read_until(client, ["transcript-stop"])


async def transcribe(server: ServerProcess, wav: Path, model: str) -> list[Event]:
    return await transcribe_pcm(server, *read_wav(wav), model)


async def synthesize(server: ServerProcess, text: str, voice: str) -> list[Event]:
    async with server.client() as client:
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name=voice)).event())
        return await read_until(client, ["audio-stop"])


def text_of(events: list[Event]) -> str:
    [transcript] = [e for e in events if e.type == "transcript"]
    return str(transcript.data["text"])


def error_of(events: list[Event]) -> tuple[str, str]:
    [error] = [e for e in events if e.type == "error"]
    return str(error.data["code"]), str(error.data["text"])


async def whisper_words(emulator: EmulatorProcess, pcm: bytes, rate: int) -> str:
    """What the emulator's Whisper hears in ``pcm`` (mono s16le)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    headers = {"Authorization": f"Bearer {emulator.api_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(emulator.run_url(WHISPER), data=buffer.getvalue()) as resp,
    ):
        assert resp.status == 200
        return normalize((await resp.json())["result"]["text"])


# -- C1: flux CloseStream ------------------------------------------------------------------


async def test_flux_utterance_ended_by_audio_stop_is_a_normal_transcript(
    server: ServerProcess, speech_dir: Path
) -> None:
    """C1: audio-stop → CloseStream; Flux answers Updates and closes without EndOfTurn and
    without a close code. That is the transcript, not a ``stream-closed`` error."""
    pcm, rate, width, channels = read_wav(speech_dir / "turn_on_the_living_room_lamp.wav")
    speech = pcm[: rate * width * channels * 2]  # cut inside the speech: no end of turn
    events = await transcribe_pcm(server, speech, rate, width, channels, FLUX)
    assert "error" not in types(events), error_of(events)
    assert normalize(text_of(events)) == LAMP


# -- C2, C11: daily free allocation, handshake errors ------------------------------------------


@pytest.mark.parametrize("code", [4006, 3036])
async def test_daily_allocation_used_up_over_websocket_is_not_retried(
    server: ServerProcess, emulator_process: EmulatorProcess, speech_dir: Path, code: int
) -> None:
    """C2/C11: a refused nova-3 handshake with 4006/3036 is a quota error: the body of the
    refusal is read (one more request), never retried, and the user is told what to do."""
    await emulator_process.set_faults(fail_next=50, status=429, code=code)
    events = await transcribe(server, speech_dir / "living_room_light_en.wav", NOVA_3)
    assert types(events) == STT_FAILED
    error_code, text = error_of(events)
    assert error_code == f"quota-exceeded-{code}"
    assert "00:00 UTC" in text
    assert "Workers Paid plan" in text
    faults = await emulator_process.get_faults()
    assert faults["pending_failures"] == 48  # the handshake and the read of its body


async def stream_reply(server: ServerProcess, text: str) -> list[Event]:
    """Stream ``text`` as one reply in aura-2-en ``luna`` (``synthesize-start``, one chunk,
    ``synthesize-stop``); the events up to ``synthesize-stopped``."""
    async with server.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice("aura-2-en-luna")).event())
        await client.write_event(SynthesizeChunk(text=text).event())
        await client.write_event(SynthesizeStop().event())
        return await read_until(client, ["synthesize-stopped"])


async def test_daily_allocation_used_up_stops_tts_without_rest_fallback(
    server: ServerProcess, emulator_process: EmulatorProcess
) -> None:
    """C2/C11: aura over the WebSocket meets 4006: no retry, no REST fallback."""
    await emulator_process.set_faults(fail_next=50, status=429, code=4006)
    events = await stream_reply(server, "Hello there. How are you?")
    assert types(events) == ["error", "synthesize-stopped"]
    assert error_of(events)[0] == "quota-exceeded-4006"
    assert (await emulator_process.get_faults())["pending_failures"] == 48


@pytest.mark.parametrize("code", [3023, 5018])
async def test_refused_account_stops_tts_without_rest_fallback(
    server: ServerProcess, emulator_process: EmulatorProcess, code: int
) -> None:
    """403/3023 (account blocked) or 403/5018 (model not allowed for the account) on the aura
    handshake: said as such (not "authentication"), no retry, no REST fallback (REST would
    meet the same refusal)."""
    await emulator_process.set_faults(fail_next=50, status=403, code=code)
    events = await stream_reply(server, "Hello there. How are you?")
    assert types(events) == ["error", "synthesize-stopped"]
    assert error_of(events)[0] == f"account-not-allowed-{code}"
    assert (await emulator_process.get_faults())["pending_failures"] == 48


async def test_daily_allocation_text_means_quota_whatever_the_code(
    server: ServerProcess, emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """C2: the "daily free allocation" text is a quota error even under a retryable code."""
    message = "you have used up your daily free allocation of 10,000 neurons, please upgrade"
    await emulator_process.set_faults(fail_next=50, status=429, code=3040, message=message)
    events = await transcribe(server, speech_dir / "living_room_light_en.wav", WHISPER)
    assert error_of(events)[0] == "quota-exceeded-3040"
    assert (await emulator_process.get_faults())["pending_failures"] == 49  # one request


async def test_paid_plan_over_websocket_is_not_an_authentication_error(
    server: ServerProcess, emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """C11: a handshake refused with 403/5035 says "Workers Paid plan"; a 403 alone would
    look like a bad token (and start re-authentication in Home Assistant)."""
    await emulator_process.set_faults(fail_next=50, status=403, code=5035)
    events = await transcribe(server, speech_dir / "living_room_light_en.wav", NOVA_3)
    assert types(events) == STT_FAILED
    error_code, text = error_of(events)
    assert error_code == "paid-plan-required-5035"
    assert "Workers Paid plan" in text


async def test_retry_after_beyond_the_budget_answers_at_once(
    server: ServerProcess, emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """C11: 3021 with Retry-After 60 s on a handshake: no wait beyond the budget, no retry."""
    await emulator_process.set_faults(fail_next=50, status=429, code=3021, retry_after=60)
    started = time.monotonic()
    events = await transcribe(server, speech_dir / "living_room_light_en.wav", NOVA_3)
    elapsed = time.monotonic() - started
    assert error_of(events)[0] == "rate-limited-3021"
    assert elapsed < 5.0  # upper bound: Retry-After (60 s) is not waited out
    assert (await emulator_process.get_faults())["pending_failures"] == 48


# -- C5: wrong account -------------------------------------------------------------------------


@pytest_asyncio.fixture
async def wrong_account_server(emulator_process: EmulatorProcess) -> AsyncIterator[ServerProcess]:
    env = {**emulator_env(emulator_process), "CLOUDFLARE_ACCOUNT_ID": "f" * 32}
    async with ServerProcess(emulator_args(emulator_process), env) as server:
        yield server


@pytest.mark.parametrize("model", [WHISPER, NOVA_3])
async def test_wrong_account_says_check_the_account_id_and_token(
    wrong_account_server: ServerProcess, speech_dir: Path, model: str
) -> None:
    """C5: 401/10000 for a wrong account ID; the user is told to check both."""
    events = await transcribe(wrong_account_server, speech_dir / "living_room_light_en.wav", model)
    assert types(events) == STT_FAILED
    error_code, text = error_of(events)
    assert error_code == "authentication-error-10000"
    assert "account ID" in text
    assert "token" in text


# -- C3, C4: MeloTTS -------------------------------------------------------------------------


async def test_melotts_offers_only_the_languages_workers_ai_accepts(
    server: ServerProcess, emulator_process: EmulatorProcess
) -> None:
    """C4: es/fr are refused by Workers AI (404/8002): no such voices; zh is spoken, and its
    WAV audio (C3) is decoded, not mistaken for MP3."""
    async with server.client() as client:
        await client.write_event(Describe().event())
        info = (await read_until(client, ["info"]))[-1]
    voices = {v["name"] for p in info.data["tts"] for v in p["voices"]}
    assert {v for v in voices if v.startswith("melotts")} == {
        "melotts-en",
        "melotts-zh",
        "melotts-ja",
        "melotts-ko",
    }
    refused = await synthesize(server, "Bonjour.", "melotts-fr")
    assert types(refused) == ["error", "audio-stop"]
    assert error_of(refused)[0] == "unknown-voice"
    spoken = await synthesize(server, "Turn on the living room light.", "melotts-en")
    assert "error" not in types(spoken)
    pcm, rate = pcm_of(spoken)
    assert await whisper_words(emulator_process, pcm, rate) == LIGHT


# -- C10: aura REST ignores encoding ----------------------------------------------------------


@pytest_asyncio.fixture
async def rest_tts_server(emulator_process: EmulatorProcess) -> AsyncIterator[ServerProcess]:
    args = emulator_args(emulator_process, "--no-tts-streaming")
    async with ServerProcess(args, emulator_env(emulator_process)) as server:
        yield server


async def test_aura_rest_mp3_despite_linear16_is_decoded(
    rest_tts_server: ServerProcess, emulator_process: EmulatorProcess
) -> None:
    """C10: MP3 bytes answered to ``encoding=linear16`` are decoded (the container is read
    from the bytes), not played as raw PCM (noise)."""
    await emulator_process.set_faults(aura_rest_ignores_encoding=True)
    events = await synthesize(rest_tts_server, "Turn on the living room light.", "aura-1-angus")
    assert "error" not in types(events)
    pcm, rate = pcm_of(events)
    assert await whisper_words(emulator_process, pcm, rate) == LIGHT


# -- C8: aura WebSocket flush limit -----------------------------------------------------------


async def test_long_streamed_reply_stays_within_the_flush_limit(server: ServerProcess) -> None:
    """C8: 30 sentences streamed one by one: the first is flushed alone, the rest grouped, so
    the 20-Flush-per-minute limit is never reached and no sentence is lost."""
    sentences = [f"This is sentence number {n}." for n in range(1, 31)]
    async with server.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice("aura-2-en-luna")).event())
        for sentence in sentences:
            await client.write_event(SynthesizeChunk(text=sentence + " ").event())
            await asyncio.sleep(0.02)
        await client.write_event(SynthesizeStop().event())
        events = await read_until(client, ["synthesize-stopped"])
    assert "error" not in types(events), error_of(events)
    pcm, rate = pcm_of(events)
    one, one_rate = pcm_of(await synthesize(server, sentences[0], "aura-2-en-luna"))
    # Every sentence was spoken: at least 25 times the audio of one of them.
    assert len(pcm) / rate > 25 * len(one) / one_rate


# -- budgets ---------------------------------------------------------------------------------


async def test_slow_workers_ai_fails_within_the_default_voice_budget(
    server: ServerProcess, emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """With default flags a model that does not answer ends in an error within the voice
    budget (10 s from audio-stop), not after minutes of timeouts and retries."""
    await emulator_process.set_faults(model_latency_ms=60_000)
    started = time.monotonic()
    events = await transcribe(server, speech_dir / "living_room_light_en.wav", WHISPER)
    elapsed = time.monotonic() - started
    assert types(events) == STT_FAILED
    assert error_of(events)[0].startswith("timeout")
    assert elapsed < 12.0  # the budget (10 s) plus the audio upload


async def test_unreachable_websocket_fails_within_the_connect_timeout(
    emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    """--connect-timeout bounds opening a WebSocket (handshake latency injected)."""
    args = emulator_args(emulator_process, "--connect-timeout", "1", "--request-deadline", "2")
    async with ServerProcess(args, emulator_env(emulator_process)) as server:
        await emulator_process.set_faults(latency_ms=30_000)
        started = time.monotonic()
        events = await transcribe(server, speech_dir / "living_room_light_en.wav", NOVA_3)
        elapsed = time.monotonic() - started
    assert types(events) == STT_FAILED
    assert error_of(events)[0].startswith("timeout")
    assert elapsed < 5.0


async def test_text_to_speech_fails_within_the_default_voice_budget(
    server: ServerProcess, emulator_process: EmulatorProcess
) -> None:
    """A voice whose model never answers ends in an error within the budget (from the text
    to the first audio), not after a 30 s silence per flush."""
    await emulator_process.set_faults(model_latency_ms=15_000)
    started = time.monotonic()
    events = await synthesize(server, "Turn on the living room light.", "aura-2-en-luna")
    elapsed = time.monotonic() - started
    assert types(events) == ["error", "audio-stop"]
    assert error_of(events)[0].startswith("timeout")
    assert elapsed < 12.0


# -- C7: AI Gateway ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["env", "file"])
async def test_ai_gateway_token_is_sent_and_never_logged(
    speech_dir: Path, tmp_path: Path, source: str
) -> None:
    """C7: with a gateway token (CLOUDFLARE_AI_GATEWAY_TOKEN or --gateway-token-file, never a
    flag) every request carries ``cf-aig-authorization``; the token is not logged."""
    secret = "gateway-token-that-must-not-leak-0123456789"
    seen: list[tuple[str, str | None]] = []

    async def gateway(request: web.Request) -> web.StreamResponse:
        seen.append((request.path, request.headers.get("cf-aig-authorization")))
        return web.json_response({"success": True, "result": {"text": "Hello."}})

    env = {"CLOUDFLARE_ACCOUNT_ID": "a" * 32, "CLOUDFLARE_API_TOKEN": "api-token"}
    async with workers_ai_stand_in(gateway) as port:
        args = ["--debug", "--api-base-url", f"http://127.0.0.1:{port}/v1/{'a' * 32}/gw/workers-ai"]
        if source == "env":
            env["CLOUDFLARE_AI_GATEWAY_TOKEN"] = secret
        else:
            token_file = tmp_path / "gateway-token"
            token_file.write_text(secret + "\n")
            args += ["--gateway-token-file", str(token_file)]
        async with ServerProcess(args, env) as server:
            events = await transcribe(server, speech_dir / "living_room_light_en.wav", WHISPER)
    assert "error" not in types(events)
    assert seen == [(f"/v1/{'a' * 32}/gw/workers-ai/{WHISPER}", f"Bearer {secret}")]
    assert secret not in server.stderr


async def test_reply_paced_sentence_by_sentence_beyond_the_flush_limit_loses_nothing(
    server: ServerProcess,
) -> None:
    """C8: sentences that each come after the previous one was spoken get a flush each; past
    20 flushes in a minute the rest is spoken over REST at once, nothing waits or is lost."""
    sentences = [f"Sentence number {n} is here." for n in range(1, 24)]
    chunks = 0
    log_start = len(server.stderr)
    async with server.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice("aura-2-en-luna")).event())
        events: list[Event] = []
        for sentence in sentences:
            await client.write_event(SynthesizeChunk(text=sentence + " ").event())
            # The previous sentence is complete now: wait until its audio stops coming.
            while True:
                try:
                    event = await asyncio.wait_for(client.read_event(), 1.0)
                except TimeoutError:
                    break
                assert event is not None
                events.append(event)
            assert "error" not in types(events), error_of(events)
            chunks += 1
        await client.write_event(SynthesizeStop().event())
        events += await read_until(client, ["synthesize-stopped"])
    assert chunks == len(sentences)
    assert "error" not in types(events), error_of(events)
    assert "over REST" in server.stderr[log_start:]  # the limit was reached
    pcm, rate = pcm_of(events)
    one, one_rate = pcm_of(await synthesize(server, sentences[0], "aura-2-en-luna"))
    assert len(pcm) / rate > 20 * len(one) / one_rate
