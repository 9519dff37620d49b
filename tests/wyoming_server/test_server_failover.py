"""Failover end to end: a real Wyoming client, the real server (subprocess) on the emulator with
real speech, and in-test Wyoming fallback servers (real Whisper tiny.en and Piper).

Each trigger sends the utterance to the fallback, WHOLE (the bytes Workers AI would have got);
the breaker opens after K failures (then Workers AI is not asked), probes after ``open_s`` and
closes on success; a streamed reply continues on the fallback voice with no sentence lost or
repeated, in the format announced by ``audio-start``; a fallback that fails too ends in
``error`` plus the terminal event.
"""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from wyoming.asr import Transcribe
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from tests.wyoming_server.failover_fallbacks import FallbackStt, FallbackTts
from tests.wyoming_server.server_harness import (
    ServerProcess,
    audio_events,
    emulator_args,
    emulator_env,
    normalize,
    read_until,
    read_wav,
)
from wyoming_server.doctor import cli as fallbacks_cli
from wyoming_server.doctor import fallbacks
from wyoming_server.emulator import EmulatorProcess, asr, tts
from wyoming_server.server.cli import parse_args
from wyoming_server.workers_ai import audio

FALLBACK_TIMEOUT = 30.0
"""The in-test fallbacks run real Whisper/Piper on a shared 2-core machine: their speed is not
what these tests check (a hang guard only)."""


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest_asyncio.fixture
async def stt_fallback() -> AsyncIterator[FallbackStt]:
    await asr.preload()  # not inside the first replay's --fallback-timeout
    async with FallbackStt() as fallback:
        yield fallback


@pytest_asyncio.fixture
async def tts_fallback() -> AsyncIterator[FallbackTts]:
    await tts.preload()
    async with FallbackTts() as fallback:
        yield fallback


async def _transcribe(server: ServerProcess, wav: Path) -> list[Event]:
    pcm, rate, width, channels = read_wav(wav)
    async with server.client() as client:
        await client.write_event(Transcribe(language="en").event())
        for event in audio_events(pcm, rate, width, channels):
            await client.write_event(event)
        return await read_until(client, {"transcript"})


def _text(events: list[Event]) -> str:
    return str(events[-1].data["text"])


def _errors(events: list[Event]) -> list[str]:
    return [str(e.data.get("code")) for e in events if e.type == "error"]


def _server(emulator: EmulatorProcess, *flags: str) -> ServerProcess:
    return ServerProcess(
        emulator_args(
            emulator,
            *("--request-timeout", "2", "--request-deadline", "3"),
            *("--fallback-timeout", str(FALLBACK_TIMEOUT)),
            *flags,
        ),
        emulator_env(emulator),
    )


def test_failover_flags_parse_and_validate() -> None:
    _, settings = parse_args(
        [
            "--fallback-stt",
            "tcp://whisper:10300",
            "--fallback-stt-model",
            "whisper-large-v3-turbo",
            "--fallback-tts",
            "tcp://piper:10200",
            "--fallback-tts-voice",
            "melotts-en",
            "--breaker-failures",
            "2",
        ]
    )
    failover = settings.failover
    assert failover.stt_uri == "tcp://whisper:10300"
    assert failover.stt_model == "@cf/openai/whisper-large-v3-turbo"
    assert (failover.tts_uri, failover.tts_voice) == ("tcp://piper:10200", "melotts-en")
    assert failover.breaker_failures == 2
    for bad in (
        ["--fallback-stt", "http://whisper:10300"],
        ["--fallback-stt", "tcp://whisper"],
        ["--fallback-stt-model", "flux"],  # WebSocket only: cannot take a replay
        ["--fallback-stt-model", "nova-3"],  # the default itself
        ["--fallback-tts-voice", "nobody"],
    ):
        with pytest.raises(SystemExit):
            parse_args(bad)


@pytest.mark.parametrize(
    ("flags", "fault"),
    [
        pytest.param((), {"fail_next": 20, "status": 500, "code": 3001}, id="nova3-ws-5xx"),
        pytest.param(
            ("--no-stt-streaming",),
            {"fail_next": 20, "status": 429, "code": 4006},
            id="nova3-rest-quota-4006",
        ),
        pytest.param(
            ("--stt-model", "whisper-large-v3-turbo"),
            {"fail_next": 20, "status": 429, "code": 3040},
            id="turbo-capacity-3040",
        ),
        pytest.param((), {"model_latency_ms": 6000}, id="nova3-no-result-in-budget"),
        pytest.param(
            ("--stt-model", "flux"), {"fail_next": 20, "status": 403, "code": 5035}, id="flux-5035"
        ),
    ],
)
async def test_each_trigger_replays_the_whole_utterance(
    emulator_process: EmulatorProcess,
    stt_fallback: FallbackStt,
    speech_dir: Path,
    flags: tuple[str, ...],
    fault: dict[str, object],
) -> None:
    wav = speech_dir / "turn_on_the_living_room_lamp.wav"  # 44.1 kHz stereo
    pcm, rate, width, channels = read_wav(wav)
    async with _server(emulator_process, "--fallback-stt", stt_fallback.uri, *flags) as server:
        await emulator_process.set_faults(**fault)
        events = await _transcribe(server, wav)
    assert _errors(events) == []
    assert len(stt_fallback.heard) == 1
    heard = stt_fallback.heard[0]
    # The whole recording, as the server converts it for Workers AI: 16 kHz s16le mono.
    assert (heard.rate, heard.width, heard.channels) == (16000, 2, 1)
    assert heard.pcm == audio.convert_pcm(pcm, rate, width, channels, 16000)
    assert normalize(_text(events)) == normalize(heard.text)
    assert "living room lamp" in normalize(_text(events))


async def test_cannot_connect_replays_to_the_fallback(
    stt_fallback: FallbackStt, emulator_process: EmulatorProcess, speech_dir: Path
) -> None:
    wav = speech_dir / "living_room_light_en.wav"  # 16 kHz mono: replayed byte for byte
    server = ServerProcess(
        [
            "--api-base-url",
            f"http://127.0.0.1:{_dead_port()}/client/v4",
            "--fallback-stt",
            stt_fallback.uri,
            "--fallback-timeout",
            str(FALLBACK_TIMEOUT),
        ],
        emulator_env(emulator_process),
    )
    async with server:
        events = await _transcribe(server, wav)
    assert _errors(events) == []
    assert stt_fallback.heard[0].pcm == read_wav(wav)[0]
    assert normalize(_text(events)) == "turn on the living room light"


async def _nova3_calls(emulator: EmulatorProcess) -> int:
    return (await emulator.request_counts()).get("rest", {}).get("@cf/deepgram/nova-3", 0)


async def test_breaker_opens_probes_and_closes(
    emulator_process: EmulatorProcess, stt_fallback: FallbackStt, speech_dir: Path
) -> None:
    wav = speech_dir / "living_room_light_en.wav"
    flags = ("--no-stt-streaming", "--breaker-failures", "2", "--breaker-open", "8")
    async with _server(emulator_process, "--fallback-stt", stt_fallback.uri, *flags) as server:
        await emulator_process.set_faults(fail_next=100, status=500, code=3001)
        for _ in range(2):
            await _transcribe(server, wav)
        assert "stt breaker closed -> open" in server.stderr
        calls = await _nova3_calls(emulator_process)
        events = await _transcribe(server, wav)  # open: Workers AI is not asked
        assert await _nova3_calls(emulator_process) == calls
        assert len(stt_fallback.heard) == 3
        assert normalize(_text(events)) == "turn on the living room light"
        async with server.client() as client:  # describe logs the breakers while one is open
            await client.write_event(Describe().event())
            await read_until(client, {"info"})
        assert "Breaker {'name': 'stt', 'state': 'open'" in server.stderr
        await emulator_process.reset_faults()
        await asyncio.sleep(8.2)
        events = await _transcribe(server, wav)  # the probe: Workers AI answers
        assert len(stt_fallback.heard) == 3
        assert normalize(_text(events)) == "turn on the living room light"
        assert "stt breaker half_open -> closed" in server.stderr
        calls = await _nova3_calls(emulator_process)
        await _transcribe(server, wav)
        assert len(stt_fallback.heard) == 3
        assert await _nova3_calls(emulator_process) == calls + 1


async def test_an_abandoned_probe_lets_the_next_request_probe(
    emulator_process: EmulatorProcess, stt_fallback: FallbackStt, speech_dir: Path
) -> None:
    """The probe's client leaves mid-utterance (Workers AI never answered it): no failure is
    counted, the breaker does not reopen, and the next request is the probe."""
    wav = speech_dir / "living_room_light_en.wav"
    flags = ("--no-stt-streaming", "--breaker-failures", "1", "--breaker-open", "1")
    async with _server(emulator_process, "--fallback-stt", stt_fallback.uri, *flags) as server:
        await emulator_process.set_faults(fail_next=100, status=500, code=3001)
        await _transcribe(server, wav)
        assert "stt breaker closed -> open" in server.stderr
        await emulator_process.reset_faults()
        await asyncio.sleep(1.2)
        pcm, rate, width, channels = read_wav(wav)
        async with server.client() as client:  # the probe; the user stops half way
            await client.write_event(Transcribe(language="en").event())
            for event in audio_events(pcm, rate, width, channels)[:5]:
                await client.write_event(event)
        await asyncio.sleep(0.3)  # the server sees the disconnect
        calls = await _nova3_calls(emulator_process)
        events = await _transcribe(server, wav)  # the next probe: Workers AI answers
        assert await _nova3_calls(emulator_process) == calls + 1
        assert normalize(_text(events)) == "turn on the living room light"
        assert "stt breaker half_open -> open" not in server.stderr
        assert "stt breaker half_open -> closed" in server.stderr
        assert len(stt_fallback.heard) == 1


async def test_fallback_that_fails_too_ends_in_error_and_transcript(
    emulator_process: EmulatorProcess, stt_fallback: FallbackStt, speech_dir: Path
) -> None:
    stt_fallback.state.fail = True
    async with _server(emulator_process, "--fallback-stt", stt_fallback.uri) as server:
        await emulator_process.set_faults(fail_next=20, status=500, code=3001)
        events = await _transcribe(server, speech_dir / "living_room_light_en.wav")
    assert _errors(events) == ["fallback-failed"]
    assert events[-1].type == "transcript"


async def _stream_reply(
    client: AsyncTcpClient, sentences: list[str], after_first: Awaitable[object]
) -> list[Event]:
    """Stream ``sentences``; ``after_first`` runs once the first one is being spoken (the
    sentence detector releases a sentence when the next one begins, hence its first word)."""
    second_head, second_tail = sentences[1].split(" ", 1)
    await client.write_event(SynthesizeStart().event())
    await client.write_event(SynthesizeChunk(text=f"{sentences[0]} {second_head}").event())
    events = await read_until(client, {"audio-chunk"})
    await after_first
    await client.write_event(SynthesizeChunk(text=f" {second_tail}").event())
    for sentence in sentences[2:]:
        await client.write_event(SynthesizeChunk(text=f" {sentence}").event())
    await client.write_event(SynthesizeStop().event())
    return events + await read_until(client, {"synthesize-stopped"})


SENTENCES = ["The kitchen light is on.", "It is twenty degrees.", "Anything else?"]


async def test_streamed_reply_continues_on_the_fallback_voice(
    emulator_process: EmulatorProcess, tts_fallback: FallbackTts
) -> None:
    flags = ("--fallback-tts", tts_fallback.uri, "--no-tts-streaming")
    async with _server(emulator_process, *flags) as server, server.client() as client:
        failing = emulator_process.set_faults(fail_next=50, status=500, code=3001)
        events = await _stream_reply(client, SENTENCES, failing)
        log = server.stderr
    assert _errors(events) == []
    # Workers AI spoke the first sentence, the fallback exactly the others, once each.
    assert tts_fallback.spoken == SENTENCES[1:]
    assert "after 1 of" in log
    starts = [e for e in events if e.type == "audio-start"]
    assert len(starts) == 1
    rate = starts[0].data["rate"]
    chunks = [e for e in events if e.type == "audio-chunk"]
    assert {c.data["rate"] for c in chunks} == {rate} == {24000}
    assert [e.type for e in events[-2:]] == ["audio-stop", "synthesize-stopped"]


async def test_reply_fallback_that_fails_too_ends_in_error_and_terminal_events(
    emulator_process: EmulatorProcess, tts_fallback: FallbackTts
) -> None:
    tts_fallback.state.fail = True
    flags = ("--fallback-tts", tts_fallback.uri, "--no-tts-streaming")
    async with _server(emulator_process, *flags) as server, server.client() as client:
        failing = emulator_process.set_faults(fail_next=50, status=500, code=3001)
        events = await _stream_reply(client, SENTENCES, failing)
    assert _errors(events) == ["fallback-failed"]
    assert [e.type for e in events[-2:]] == ["audio-stop", "synthesize-stopped"]


async def test_doctor_reports_fallback_reachability_and_breaker(
    stt_fallback: FallbackStt, tts_fallback: FallbackTts
) -> None:
    out = io.StringIO()
    args = fallbacks_cli.build_parser().parse_args(
        ["--fallback-stt", stt_fallback.uri, "--fallback-tts", f"tcp://127.0.0.1:{_dead_port()}"]
    )
    report = await fallbacks.failover_report(args, out)
    assert report is not None
    stt, tts = report["fallbacks"]
    assert stt["reachable"] is True
    assert tts["reachable"] is False
    assert report["breaker"]["failure_threshold"] == 3
    assert "NOT reachable" in out.getvalue()


@pytest.mark.parametrize(
    ("fault", "model_answers"),
    [
        pytest.param({"fail_next": 1, "status": 400, "code": 7000}, True, id="7000-model-first"),
        pytest.param(
            {"fail_next": 1, "status": 429, "code": 4006}, False, id="4006-account-wide-skips-model"
        ),
    ],
)
async def test_fallback_model_first_unless_the_account_is_refused(
    emulator_process: EmulatorProcess,
    stt_fallback: FallbackStt,
    speech_dir: Path,
    fault: dict[str, object],
    model_answers: bool,
) -> None:
    flags = ("--no-stt-streaming", "--fallback-stt-model", "whisper-large-v3-turbo")
    async with _server(emulator_process, "--fallback-stt", stt_fallback.uri, *flags) as server:
        await emulator_process.set_faults(**fault)
        await emulator_process.request_counts(reset=True)
        events = await _transcribe(server, speech_dir / "living_room_light_en.wav")
        turbo = (
            (await emulator_process.request_counts())
            .get("rest", {})
            .get("@cf/openai/whisper-large-v3-turbo", 0)
        )
    assert _errors(events) == []
    assert normalize(_text(events)) == "turn on the living room light"
    assert (turbo == 1) is model_answers
    assert (len(stt_fallback.heard) == 0) is model_answers


async def test_metrics_show_breaker_state_and_failovers(
    emulator_process: EmulatorProcess, stt_fallback: FallbackStt, speech_dir: Path
) -> None:
    port = _dead_port()
    flags = ("--metrics-port", str(port), "--metrics-host", "127.0.0.1", "--breaker-failures", "1")
    async with _server(emulator_process, "--fallback-stt", stt_fallback.uri, *flags) as server:
        await emulator_process.set_faults(fail_next=50, status=500, code=3001)
        for _ in range(2):
            await _transcribe(server, speech_dir / "living_room_light_en.wav")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/metrics") as response,
        ):
            text = await response.text()
    assert 'wyoming_breaker_state{task="stt"} 2.0' in text
    for reason in ("server-error-3001", "breaker-open"):
        labels = f'fallback="{stt_fallback.uri}",reason="{reason}",task="stt"'
        assert f"wyoming_failovers_total{{{labels}}} 1.0" in text


@pytest.mark.parametrize("closes", [False, True], ids=["one-connection", "closes-per-reply"])
async def test_refused_aura_websocket_and_rest_leave_the_whole_reply_to_the_fallback(
    emulator_process: EmulatorProcess, tts_fallback: FallbackTts, closes: bool
) -> None:
    tts_fallback.state.close_after_reply = closes  # a server that closes after each audio-stop
    flags = ("--fallback-tts", tts_fallback.uri, "--no-spare-websockets")
    async with _server(emulator_process, *flags) as server, server.client() as client:
        await emulator_process.set_faults(fail_next=50, status=500, code=3001)
        await client.write_event(SynthesizeStart().event())
        for sentence in SENTENCES:
            await client.write_event(SynthesizeChunk(text=f"{sentence} ").event())
        await client.write_event(SynthesizeStop().event())
        events = await read_until(client, {"synthesize-stopped"})
    assert _errors(events) == []
    assert tts_fallback.spoken == SENTENCES
    assert [e.data["rate"] for e in events if e.type == "audio-start"] == [24000]


async def test_dropped_aura_websocket_leaves_the_unfinished_sentence_to_the_fallback(
    emulator_process: EmulatorProcess, tts_fallback: FallbackTts
) -> None:
    flags = ("--fallback-tts", tts_fallback.uri, "--no-spare-websockets")
    async with _server(emulator_process, *flags) as server, server.client() as client:
        await emulator_process.set_faults(ws_drop_after_messages=2)  # inside sentence 1's audio
        await client.write_event(SynthesizeStart().event())
        for sentence in SENTENCES:
            await client.write_event(SynthesizeChunk(text=f"{sentence} ").event())
        await client.write_event(SynthesizeStop().event())
        events = await read_until(client, {"synthesize-stopped"})
        log = server.stderr
    assert _errors(events) == []
    assert "after 0 of" in log  # no sentence was spoken whole by Workers AI
    assert tts_fallback.spoken == SENTENCES
    assert [e.data["rate"] for e in events if e.type == "audio-start"] == [24000]
    assert {e.data["rate"] for e in events if e.type == "audio-chunk"} == {24000}


async def test_open_tts_breaker_skips_workers_ai(
    emulator_process: EmulatorProcess, tts_fallback: FallbackTts
) -> None:
    flags = ("--fallback-tts", tts_fallback.uri, "--no-tts-streaming", "--breaker-failures", "1")
    async with _server(emulator_process, *flags) as server:
        await emulator_process.set_faults(fail_next=50, status=500, code=3001)
        async with server.client() as client:
            await client.write_event(Synthesize(text=SENTENCES[0]).event())
            await read_until(client, {"audio-stop"})
        assert "tts breaker closed -> open" in server.stderr
        await emulator_process.reset_faults()
        await emulator_process.request_counts(reset=True)
        async with server.client() as client:
            await client.write_event(Synthesize(text=" ".join(SENTENCES)).event())
            events = await read_until(client, {"audio-stop"})
        assert (await emulator_process.request_counts()).get("rest", {}) == {}
    assert _errors(events) == []
    assert tts_fallback.spoken == SENTENCES[:1] + SENTENCES


async def test_fallback_voice_on_workers_ai_speaks_the_reply(
    emulator_process: EmulatorProcess, tts_fallback: FallbackTts
) -> None:
    flags = ("--fallback-tts", tts_fallback.uri, "--fallback-tts-voice", "melotts-en")
    async with _server(emulator_process, "--no-tts-streaming", *flags) as server:
        await emulator_process.set_faults(fail_next=1, status=400, code=7000)
        await emulator_process.request_counts(reset=True)
        async with server.client() as client:
            await client.write_event(Synthesize(text=SENTENCES[0]).event())
            events = await read_until(client, {"audio-stop"})
        rest = (await emulator_process.request_counts()).get("rest", {})
    assert _errors(events) == []
    assert rest.get("@cf/myshell-ai/melotts") == 1
    assert tts_fallback.spoken == []
    assert sum(len(e.payload or b"") for e in events if e.type == "audio-chunk") > 24000
