"""The emulator's WebSockets with real speech: nova-3 (Deepgram listen v1), flux (listen v2)
and aura (speak v1); message shapes per workers-ai-speech-api.md §4.5, §4.6, §5.4."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import re
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import pytest
from jsonschema import Draft202012Validator

from wyoming_server.emulator import Emulator, schemas, speaker_length_scale

SPEECH = Path(__file__).resolve().parents[1] / "data"  # the recordings, with their licence
LAMP = ["turn", "on", "the", "living", "room", "lamp"]
LIGHT = ["turn", "on", "the", "living", "room", "light"]
WAIT = 60.0  # seconds: generous bound for answers from models on a busy 2-core machine


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def pcm(name: str, rate: int = 16000, layout: str = "mono") -> bytes:
    """A recording as s16le PCM at ``rate`` Hz (``layout`` mono or stereo)."""
    with av.open(str(SPEECH / name)) as container:
        resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)
        frames = [f for frame in container.decode(audio=0) for f in resampler.resample(frame)]
        frames += resampler.resample(None)
    return b"".join(bytes(f.to_ndarray().tobytes()) for f in frames)


def silence(seconds: float, rate: int = 16000) -> bytes:
    return bytes(int(seconds * rate) * 2)


def wav_bytes(pcm16: bytes, rate: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm16)
    return out.getvalue()


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {emulator.api_token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield session


def ws_url(emulator: Emulator, model: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return emulator.run_url(model) + (f"?{query}" if query else "")


async def send_audio(
    ws: aiohttp.ClientWebSocketResponse, audio: bytes, chunk: int = 3200, pause: float = 0.0
) -> None:
    for i in range(0, len(audio), chunk):
        await ws.send_bytes(audio[i : i + chunk])
        await asyncio.sleep(pause)


def assert_results_shape(message: dict[str, Any]) -> None:
    assert {"type", "channel_index", "duration", "start", "is_final", "speech_final",
            "from_finalize", "channel", "metadata"} == set(message)  # fmt: skip
    assert message["channel_index"] == [0, 1]
    (alternative,) = message["channel"]["alternatives"]
    assert {"transcript", "confidence", "words"} <= set(alternative)
    for word in alternative["words"]:
        assert {"word", "start", "end", "confidence", "punctuated_word"} == set(word)
        assert message["start"] - 0.05 <= word["start"] <= word["end"]
    assert {"request_id", "model_info", "model_uuid"} == set(message["metadata"])


# -- nova-3 -----------------------------------------------------------------------------


def trimmed(audio: bytes, rate: int = 16000) -> bytes:
    """``audio`` without its leading and trailing quiet (20 ms frames below 1 % full scale)."""
    samples = np.frombuffer(audio, np.int16).astype(np.float32) / 32768
    frame = rate // 50
    loud = [
        i
        for i in range(0, len(samples) - frame, frame)
        if np.sqrt(np.mean(samples[i : i + frame] ** 2)) > 0.01
    ]
    return audio[loud[0] * 2 : (loud[-1] + frame) * 2]


async def test_nova_3_finalizes_continuous_speech_every_few_seconds(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """Deepgram marks continuous speech is_final every few seconds (issue 7): no final segment
    of 8 s of speech without a pause is longer than 5 s, so Finalize re-recognises little."""
    speech = trimmed(pcm("living_room_light_en.wav"))
    audio = speech * (int(8 * 32000 / len(speech)) + 1)
    url = ws_url(emulator, "@cf/deepgram/nova-3", encoding="linear16", sample_rate="16000",
                 interim_results="false", endpointing="300")  # fmt: skip
    finals: list[dict[str, Any]] = []
    async with http.ws_connect(url) as ws:
        await send_audio(ws, audio, pause=0.01)
        await ws.send_str(json.dumps({"type": "CloseStream"}))
        async for msg in ws:
            message = json.loads(msg.data)
            if message["type"] == "Results" and message["is_final"]:
                finals.append(message)
    assert len(audio) / 32000 > 8
    assert len(finals) >= 2
    assert max(m["duration"] for m in finals) <= 5.0


async def test_nova_3_streams_interim_and_final_results(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    audio = (silence(0.5) + pcm("turn_on_the_living_room_lamp.wav") + silence(1.0)
             + pcm("living_room_light_en.wav") + silence(1.0))  # fmt: skip
    url = ws_url(emulator, "@cf/deepgram/nova-3", encoding="linear16", sample_rate="16000",
                 channels="1", language="en", interim_results="true", punctuate="true",
                 smart_format="true", endpointing="300", vad_events="true",
                 utterance_end_ms="1000")  # fmt: skip
    messages: list[dict[str, Any]] = []
    interim = asyncio.Event()
    async with http.ws_connect(url) as ws:

        async def sender() -> None:
            await send_audio(ws, audio, pause=0.05)  # 100 ms chunks at about 2x real time
            await asyncio.wait_for(interim.wait(), WAIT)
            await ws.send_str(json.dumps({"type": "KeepAlive"}))
            await ws.send_str(json.dumps({"type": "CloseStream"}))

        task = asyncio.create_task(sender())
        async for msg in ws:
            assert msg.type == aiohttp.WSMsgType.TEXT
            message = json.loads(msg.data)
            messages.append(message)
            if message["type"] == "Results" and not message["is_final"]:
                interim.set()
        await task
        assert ws.close_code == 1000

    results = [m for m in messages if m["type"] == "Results"]
    for message in results:
        assert_results_shape(message)
    # Interim results came before CloseStream was sent (the sender waited for one).
    assert any(not m["is_final"] for m in results)
    finals = [m for m in results if m["is_final"]]
    transcript = " ".join(m["channel"]["alternatives"][0]["transcript"] for m in finals)
    assert words(transcript) == LAMP + LIGHT
    # Both utterances were endpointed by the pause after them.
    spoken = [m for m in finals if m["channel"]["alternatives"][0]["transcript"]]
    assert [m["speech_final"] for m in spoken] == [True, True]
    # Final segments tile the stream.
    for before, after in itertools.pairwise(finals):
        assert after["start"] == pytest.approx(before["start"] + before["duration"], abs=0.002)
    assert any(m["type"] == "SpeechStarted" for m in messages)
    assert any(m["type"] == "UtteranceEnd" for m in messages)
    metadata = messages[-1]
    assert metadata["type"] == "Metadata"
    assert metadata["duration"] == pytest.approx(len(audio) / 32000, abs=0.01)
    assert metadata["channels"] == 1
    assert {"transaction_key", "request_id", "sha256", "created", "duration", "channels"} <= set(
        metadata
    )


async def test_nova_3_finalize_flushes_stereo_44k_audio(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    audio = pcm("turn_on_the_living_room_lamp.wav", rate=44100, layout="stereo")
    url = ws_url(emulator, "@cf/deepgram/nova-3", encoding="linear16", sample_rate="44100",
                 channels="2", endpointing="false")  # fmt: skip
    async with http.ws_connect(url) as ws:
        await send_audio(ws, audio, chunk=17640)
        await ws.send_str(json.dumps({"type": "Finalize"}))
        message = await ws.receive_json(timeout=WAIT)
        assert message["type"] == "Results"
        assert (message["is_final"], message["from_finalize"]) == (True, True)
        alternative = message["channel"]["alternatives"][0]
        # No punctuate/smart_format: Deepgram's plain lower-case transcript.
        assert alternative["transcript"] == " ".join(LAMP)
        assert message["duration"] == pytest.approx(2.99, abs=0.02)
        await ws.send_str(json.dumps({"type": "CloseStream"}))
        closing = await ws.receive_json(timeout=WAIT)
        assert closing["type"] == "Metadata"
        assert closing["channels"] == 2
        assert (await ws.receive(timeout=WAIT)).type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1000


async def test_nova_3_closes_an_idle_stream_with_net_0001() -> None:
    async with (
        Emulator(ws_idle_timeout_s=0.5) as emu,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {emu.api_token}"}) as s,
        s.ws_connect(
            ws_url(emu, "@cf/deepgram/nova-3", encoding="linear16", sample_rate="16000")
        ) as ws,  # fmt: skip
    ):
        for _ in range(3):  # KeepAlive keeps it open beyond the idle timeout
            await ws.send_str(json.dumps({"type": "KeepAlive"}))
            await asyncio.sleep(0.3)
        msg = await ws.receive(timeout=WAIT)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1011
        assert msg.extra == "NET-0001"


async def test_nova_3_rejects_unknown_control_messages(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    url = ws_url(emulator, "@cf/deepgram/nova-3", encoding="linear16", sample_rate="16000")
    async with http.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"type": "Transcribe"}))
        msg = await ws.receive(timeout=WAIT)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1008


# -- flux -------------------------------------------------------------------------------


async def run_flux(
    http: aiohttp.ClientSession,
    emulator: Emulator,
    audio: bytes,
    *,
    wait_for_end_of_turn: bool,
    **params: str,
) -> list[dict[str, Any]]:
    """Stream ``audio`` (80 ms chunks, fast), optionally wait for EndOfTurn, then CloseStream;
    returns every message (all validated against flux's output schema)."""
    url = ws_url(emulator, "@cf/deepgram/flux", encoding="linear16", sample_rate="16000", **params)
    messages: list[dict[str, Any]] = []
    end_of_turn = asyncio.Event()
    close_codes = []
    async with http.ws_connect(url, autoclose=False) as ws:

        async def sender() -> None:
            await send_audio(ws, audio, chunk=2560)
            if wait_for_end_of_turn:
                await asyncio.wait_for(end_of_turn.wait(), WAIT)
            await ws.send_str(json.dumps({"type": "CloseStream"}))

        task = asyncio.create_task(sender())
        while True:  # not "async for": it ends silently at the close frame
            msg = await ws.receive(timeout=WAIT)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                close_codes.append(msg.data)
                break
            message = json.loads(msg.data)
            messages.append(message)
            if message.get("event") == "EndOfTurn":
                end_of_turn.set()
        await task
    assert close_codes == [0]  # a close frame without a status code (§9 C1)
    assert messages[0] == {
        "type": "Connected",
        "request_id": messages[0]["request_id"],
        "sequence_id": 0,
    }
    validator = Draft202012Validator(schemas.FLUX_OUTPUT)
    for index, message in enumerate(messages):
        assert message["sequence_id"] == index
        if index:
            assert message["type"] == "TurnInfo"
            validator.validate(message)
    return messages[1:]


async def test_flux_ends_the_turn_on_trailing_silence(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    audio = silence(0.5) + pcm("living_room_light_en.wav") + silence(1.5)
    infos = await run_flux(http, emulator, audio, wait_for_end_of_turn=True)
    events = [m["event"] for m in infos]
    assert "StartOfTurn" in events
    assert events.count("EndOfTurn") == 1
    assert events.index("StartOfTurn") < events.index("EndOfTurn")
    assert "EagerEndOfTurn" not in events  # only with eager_eot_threshold
    end = infos[events.index("EndOfTurn")]
    assert words(end["transcript"]) == LIGHT
    assert [words(w["word"])[0] for w in end["words"]] == LIGHT
    assert end["turn_index"] == 0
    assert end["end_of_turn_confidence"] >= 0.7
    # The EndOfTurn came from the silence (before CloseStream), within the audio sent.
    assert end["audio_window_end"] <= len(audio) / 32000
    for update in (m for m in infos if m["event"] == "Update"):
        transcript = words(update["transcript"])
        assert transcript == LIGHT[: len(transcript)] or update["turn_index"] == 0


async def test_flux_turn_thresholds_and_eager_end_of_turn(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    audio = pcm("living_room_light_en.wav") + silence(1.5)
    quick = await run_flux(http, emulator, audio, wait_for_end_of_turn=True,
                           eot_threshold="0.5", eager_eot_threshold="0.3")  # fmt: skip
    slow = await run_flux(http, emulator, audio, wait_for_end_of_turn=True, eot_threshold="0.9")

    def end_of(infos: list[dict[str, Any]]) -> dict[str, Any]:
        return next(m for m in infos if m["event"] == "EndOfTurn")

    assert end_of(quick)["audio_window_end"] < end_of(slow)["audio_window_end"]
    events = [m["event"] for m in quick]
    eager = quick[events.index("EagerEndOfTurn")]
    assert events.index("EagerEndOfTurn") < events.index("EndOfTurn")
    assert eager["transcript"] == end_of(quick)["transcript"]
    assert words(eager["transcript"]) == LIGHT


async def test_flux_turn_resumed_after_an_eager_end_of_turn(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    light = pcm("living_room_light_en.wav")
    # The first command's own trailing silence cut short: a pause of about half a second.
    audio = light[: int(1.6 * 32000)] + silence(0.2) + light + silence(1.2)
    infos = await run_flux(http, emulator, audio, wait_for_end_of_turn=True,
                           eager_eot_threshold="0.3", eot_threshold="0.9")  # fmt: skip
    events = [m["event"] for m in infos]
    assert events.index("EagerEndOfTurn") < events.index("TurnResumed") < events.index("EndOfTurn")
    assert events.count("EndOfTurn") == 1  # one turn: the pause was shorter than the EOT
    end = infos[events.index("EndOfTurn")]
    assert words(end["transcript"]) == LIGHT + LIGHT
    assert words(infos[events.index("EagerEndOfTurn")]["transcript"]) == LIGHT


async def test_flux_close_stream_sends_updates_and_no_end_of_turn(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """§9 C1: after CloseStream Flux sends Updates and closes, without EndOfTurn."""
    audio = pcm("turn_on_the_living_room_lamp.wav")[: 16000 * 2 * 2]  # speech, cut after 2 s
    infos = await run_flux(http, emulator, audio, wait_for_end_of_turn=False,
                           keyterm="lamp", tag="test", mip_opt_out="true")  # fmt: skip
    assert [m for m in infos if m["event"] == "EndOfTurn"] == []
    assert infos[-1]["event"] == "Update"
    assert words(infos[-1]["transcript"]) == LAMP


# -- aura -------------------------------------------------------------------------------


async def speak(
    ws: aiohttp.ClientWebSocketResponse, text: str
) -> tuple[bytes, dict[str, Any], int]:
    """Speak + Flush; returns (audio bytes, the Flushed message, number of binary frames)."""
    await ws.send_str(json.dumps({"type": "Speak", "text": text}))
    await ws.send_str(json.dumps({"type": "Flush"}))
    audio = b""
    frames = 0
    while True:
        msg = await ws.receive(timeout=WAIT)
        if msg.type == aiohttp.WSMsgType.BINARY:
            audio += msg.data
            frames += 1
            continue
        assert msg.type == aiohttp.WSMsgType.TEXT
        return audio, json.loads(msg.data), frames


async def test_aura_websocket_speak_flush_clear_close(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    url = ws_url(emulator, "@cf/deepgram/aura-2-en", speaker="orion", encoding="linear16",
                 sample_rate="16000", container="none")  # fmt: skip
    async with http.ws_connect(url) as ws:
        metadata = await ws.receive_json(timeout=WAIT)
        assert metadata["type"] == "Metadata"
        assert metadata["model_name"] == "aura-2-orion-en"
        assert {"request_id", "model_version", "model_uuid"} <= set(metadata)
        text = "Turn on the kitchen light. It is dark in here."
        audio, flushed, frames = await speak(ws, text)
        assert flushed == {"type": "Flushed", "sequence_id": 0}
        assert frames > 1  # streamed in chunks
        async with http.post(
            emulator.run_url("@cf/openai/whisper-tiny-en"), data=wav_bytes(audio, 16000)
        ) as resp:
            heard = (await resp.json())["result"]["text"]
        assert words(heard) == words(text)
        second, flushed, _ = await speak(ws, "Done.")
        assert flushed == {"type": "Flushed", "sequence_id": 1}
        assert 0 < len(second) < len(audio)
        await ws.send_str(json.dumps({"type": "Speak", "text": "Never said."}))
        await ws.send_str(json.dumps({"type": "Clear"}))
        assert await ws.receive_json(timeout=WAIT) == {"type": "Cleared", "sequence_id": 0}
        await ws.send_str(json.dumps({"type": "Flush"}))  # the cleared text is gone
        assert await ws.receive_json(timeout=WAIT) == {"type": "Flushed", "sequence_id": 2}
        await ws.send_str(json.dumps({"type": "Close"}))
        assert (await ws.receive(timeout=WAIT)).type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1000


async def test_aura_websocket_clear_interrupts_synthesis(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    url = ws_url(emulator, "@cf/deepgram/aura-1", speaker="zeus")
    long_text = " ".join(f"This is sentence number {n} of a long answer." for n in range(12))
    async with http.ws_connect(url) as ws:
        assert (await ws.receive_json(timeout=WAIT))["type"] == "Metadata"
        await ws.send_str(json.dumps({"type": "Speak", "text": long_text}))
        await ws.send_str(json.dumps({"type": "Flush"}))
        first = await ws.receive(timeout=WAIT)
        assert first.type == aiohttp.WSMsgType.BINARY  # synthesis under way
        await ws.send_str(json.dumps({"type": "Clear"}))
        received = len(first.data)
        while True:
            msg = await ws.receive(timeout=WAIT)
            if msg.type == aiohttp.WSMsgType.BINARY:
                received += len(msg.data)
                continue
            assert json.loads(msg.data) == {"type": "Cleared", "sequence_id": 0}
            break
        # 24 kHz linear16 default: far less than the ~30 s of the whole text was sent.
        assert received / 48000 < 15
        _, flushed, _ = await speak(ws, "Okay.")
        assert flushed == {"type": "Flushed", "sequence_id": 1}


async def test_aura_websocket_mulaw_and_speaker_rate(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    model = "@cf/deepgram/aura-2-es"
    text = "Turn on the kitchen light."
    lengths = {}
    for speaker in ("sirio", "diana"):
        url = ws_url(emulator, model, speaker=speaker, encoding="mulaw", sample_rate="8000")
        async with http.ws_connect(url) as ws:
            await ws.receive_json(timeout=WAIT)
            audio, flushed, _ = await speak(ws, text)
            assert flushed["type"] == "Flushed"
            lengths[speaker] = len(audio) / 8000  # one byte per mu-law sample
            assert np.frombuffer(audio, np.uint8).std() > 0
    slower = speaker_length_scale(model, "diana") > speaker_length_scale(model, "sirio")
    assert (lengths["diana"] > lengths["sirio"]) == slower


async def test_aura_websocket_serves_twenty_flushes_then_warns(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """§9 C8: 20 Flush per 60 s; the 21st and 22nd get a Warning and no Flushed."""
    async with http.ws_connect(ws_url(emulator, "@cf/deepgram/aura-1")) as ws:
        await ws.receive_json(timeout=WAIT)
        for _ in range(22):
            await ws.send_str(json.dumps({"type": "Flush"}))
        received = [await ws.receive_json(timeout=WAIT) for _ in range(22)]
        with pytest.raises(TimeoutError):
            await ws.receive_json(timeout=0.5)  # nothing more: no Flushed for 21 and 22
    warnings = [m for m in received if m["type"] == "Warning"]
    assert len(warnings) == 2
    assert {"description", "code"} <= set(warnings[0])
    assert [m["sequence_id"] for m in received if m["type"] == "Flushed"] == list(range(20))
