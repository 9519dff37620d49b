"""What the client puts on the WebSocket wire, checked against the documented shapes.

The client talks to the emulator through :class:`tests.wire_recorder.WireRecorder`, which
records every handshake and message. Expected values come from the public docs quoted in
``tests/data/schemas/`` (Deepgram listen v1/v2 and speak v1, Cloudflare's model pages), never
from the catalog: the emulator accepts a missing ``language`` or threshold, the recorder does not.
"""

from __future__ import annotations

import json
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.wire_recorder import WireRecorder
from wyoming_server.emulator import Emulator
from wyoming_server.workers_ai import WorkersAIClient

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"
NOVA3 = "@cf/deepgram/nova-3"
FLUX = "@cf/deepgram/flux"


def schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / name).read_text())
    return data


def speech(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (16000, 2, 1)
        return wav.readframes(wav.getnframes())


@pytest.fixture
async def wire(emulator: Emulator) -> AsyncIterator[tuple[WireRecorder, WorkersAIClient]]:
    recorder = WireRecorder(emulator.base_url).start()
    try:
        async with aiohttp.ClientSession() as session:
            yield (
                recorder,
                WorkersAIClient(
                    session, emulator.account_id, emulator.api_token, api_base_url=recorder.base_url
                ),
            )
    finally:
        recorder.stop()


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("de-DE", "de"), ("de", "de"), ("es", "es"), ("fr-CA", "fr-CA"), ("en-GB", "en-GB")],
)
async def test_nova3_websocket_pins_the_requested_language_and_its_keyterms(
    wire: tuple[WireRecorder, WorkersAIClient], tag: str, expected: str
) -> None:
    """A supported language goes out as ``language=<tag>`` (not ``multi``), with ``keyterm``s."""
    recorder, client = wire
    assert expected in schema("nova-3.json")["languages"]
    async with client.listen(NOVA3, sample_rate=16000, language=tag, keyterms=["Hue", "Lamp"]):
        pass
    [handshake] = recorder.runs(NOVA3)
    assert handshake.websocket
    assert handshake.param("language") == expected
    assert handshake.params("keyterm") == ["Hue", "Lamp"]
    assert handshake.param("encoding") == "linear16"
    assert handshake.param("sample_rate") == "16000"


async def test_nova3_websocket_detects_an_unlisted_language_without_keyterms(
    wire: tuple[WireRecorder, WorkersAIClient],
) -> None:
    """Swedish is not a nova-3 language: multilingual detection, and no keyterm (rejected)."""
    recorder, client = wire
    assert "sv" not in schema("nova-3.json")["languages"]
    async with client.listen(NOVA3, sample_rate=16000, language="sv-SE", keyterms=["Hue"]):
        pass
    [handshake] = recorder.runs(NOVA3)
    assert handshake.param("language") == schema("nova-3.json")["multilingual"]
    assert handshake.params("keyterm") == []


async def test_flux_websocket_sends_the_end_of_turn_thresholds_and_keyterms(
    wire: tuple[WireRecorder, WorkersAIClient],
) -> None:
    recorder, client = wire
    async with client.listen(
        FLUX,
        sample_rate=16000,
        eot_threshold=0.8,
        eager_eot_threshold=0.5,
        eot_timeout_ms=3000,
        keyterms=["Hue", "Lamp"],
    ):
        pass
    [handshake] = recorder.runs(FLUX)
    assert handshake.websocket
    assert handshake.param("encoding") == "linear16"
    assert handshake.param("sample_rate") == "16000"
    assert handshake.param("eot_threshold") == "0.8"
    assert handshake.param("eager_eot_threshold") == "0.5"
    assert handshake.param("eot_timeout_ms") == "3000"
    assert handshake.params("keyterm") == ["Hue", "Lamp"]
    assert handshake.param("language") is None  # flux is English-only (§9 C9)


async def test_nova3_end_of_audio_sends_finalize_then_close_stream(
    wire: tuple[WireRecorder, WorkersAIClient], speech_dir: Path
) -> None:
    """Deepgram listen v1: ``Finalize`` flushes the last words, then ``CloseStream`` ends."""
    recorder, client = wire
    pcm = speech(speech_dir / "living_room_light_en.wav")
    async with client.listen(NOVA3, sample_rate=16000, language="en") as session:
        await session.send_audio(pcm)
        result = await session.finish()
    assert "living room light" in result.text.lower()
    [stream] = recorder.runs(NOVA3)
    assert stream.controls[-2:] == ["Finalize", "CloseStream"]
    finalize_at = stream.messages.index({"type": "Finalize"})
    assert stream.audio_bytes == len(pcm)  # every byte went out before Finalize
    assert all(not isinstance(m, int) for m in stream.messages[finalize_at:])


@pytest.mark.parametrize(
    ("model", "speaker"),
    [
        ("@cf/deepgram/aura-1", "orion"),
        ("@cf/deepgram/aura-2-en", "apollo"),
        ("@cf/deepgram/aura-2-es", "javier"),
    ],
)
async def test_aura_websocket_asks_for_the_requested_speaker(
    wire: tuple[WireRecorder, WorkersAIClient], model: str, speaker: str
) -> None:
    recorder, client = wire
    published = schema(model.rsplit("/", 1)[1] + ".json")["speaker"]
    assert speaker in published["enum"] and speaker != published["default"]
    async with client.speak(model, speaker=speaker) as session:
        audio = b"".join([frame async for frame in session.synthesize("Hello there.")])
    assert audio
    [handshake] = recorder.runs(model)
    assert handshake.websocket
    assert handshake.param("speaker") == speaker
    assert handshake.param("encoding") == "linear16"
    assert handshake.param("sample_rate") in {"8000", "16000", "24000", "32000", "48000"}
    assert handshake.controls == ["Speak", "Flush", "Close"]
    assert handshake.messages[0] == {"type": "Speak", "text": "Hello there."}


@pytest.mark.parametrize("model", ["@cf/deepgram/aura-1", "@cf/deepgram/aura-2-en"])
async def test_aura_websocket_without_speaker_asks_for_the_published_default(
    wire: tuple[WireRecorder, WorkersAIClient], model: str
) -> None:
    recorder, client = wire
    async with client.speak(model):
        pass
    [handshake] = recorder.runs(model)
    assert (
        handshake.param("speaker")
        == schema(model.rsplit("/", 1)[1] + ".json")["speaker"]["default"]
    )
