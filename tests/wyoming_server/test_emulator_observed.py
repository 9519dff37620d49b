"""The emulator against what Workers AI was observed to do (2026-11 review, "§9" below).

Raw HTTP and WebSocket requests, no project client: the expected answers come from the live
observations quoted here, not from our code. The emulator follows them all since the §9 fixes
landed (no test is marked ``xfail`` any more): a failure here means it drifted from them.

Sources: live probes of Workers AI on 2026-09-07 by a public TTS project (MeloTTS languages and
output, wrong account ID, unknown model, empty text); Deepgram's Flux ``CloseStream`` docs,
https://developers.deepgram.com/docs/flux/close-stream .
"""

from __future__ import annotations

import base64
import json
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from wyoming_server.emulator import Emulator

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"
MELOTTS = "@cf/myshell-ai/melotts"


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[tuple[Emulator, aiohttp.ClientSession]]:
    async with aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {emulator.api_token}"}
    ) as session:
        yield emulator, session


def run_url(emulator: Emulator, model: str, account: str | None = None) -> str:
    return f"{emulator.base_url}/accounts/{account or emulator.account_id}/ai/run/{model}"


async def post(
    http: tuple[Emulator, aiohttp.ClientSession], model: str, body: Any, account: str | None = None
) -> tuple[int, dict[str, Any]]:
    emulator, session = http
    async with session.post(run_url(emulator, model, account), json=body) as response:
        return response.status, json.loads(await response.read())


def codes(envelope: dict[str, Any]) -> list[int]:
    return [int(e["code"]) for e in envelope.get("errors", [])]


@pytest.mark.parametrize("lang", json.loads((SCHEMAS / "melotts.json").read_text())["languages"])
async def test_melotts_speaks_the_observed_languages(
    http: tuple[Emulator, aiohttp.ClientSession], lang: str
) -> None:
    status, envelope = await post(http, MELOTTS, {"prompt": "Hello there.", "lang": lang})
    assert status == 200
    assert base64.b64decode(envelope["result"]["audio"])


@pytest.mark.parametrize("lang", ["es", "fr"])
async def test_melotts_refuses_spanish_and_french_with_8002(
    http: tuple[Emulator, aiohttp.ClientSession], lang: str
) -> None:
    status, envelope = await post(http, MELOTTS, {"prompt": "Hola.", "lang": lang})
    assert (status, codes(envelope)) == (404, [8002])


async def test_melotts_audio_is_wav(http: tuple[Emulator, aiohttp.ClientSession]) -> None:
    """``result.audio`` decodes to a RIFF WAV (44.1 kHz mono 16-bit), not MP3."""
    status, envelope = await post(http, MELOTTS, {"prompt": "Hello.", "lang": "en"})
    assert status == 200
    data = base64.b64decode(envelope["result"]["audio"])
    assert data[:4] == b"RIFF"
    assert (int.from_bytes(data[22:24], "little"), int.from_bytes(data[24:28], "little")) == (
        1,
        44100,
    )


async def test_wrong_account_id_is_401_with_10000(
    http: tuple[Emulator, aiohttp.ClientSession],
) -> None:
    status, envelope = await post(http, "@cf/deepgram/aura-1", {"text": "Hello."}, account="f" * 32)
    assert (status, codes(envelope)) == (401, [10000])


async def test_unknown_model_is_400_with_7000(
    http: tuple[Emulator, aiohttp.ClientSession],
) -> None:
    status, envelope = await post(http, "@cf/example/no-such-model", {"text": "Hello."})
    assert (status, codes(envelope)) == (400, [7000])


async def test_empty_tts_text_is_400_with_8007(
    http: tuple[Emulator, aiohttp.ClientSession],
) -> None:
    status, envelope = await post(http, "@cf/deepgram/aura-1", {"text": ""})
    assert (status, codes(envelope)) == (400, [8007])


async def test_flux_close_stream_ends_without_end_of_turn(
    http: tuple[Emulator, aiohttp.ClientSession], speech_dir: Path
) -> None:
    """Flux decodes what it has, sends ``Update``s and closes: no ``EndOfTurn``, the last
    ``Update`` is the transcript."""
    emulator, session = http
    with wave.open(str(speech_dir / "living_room_light_en.wav"), "rb") as wav:
        # Cut mid-speech (1.6 s of 2.4 s): the recording's own trailing silence would end the
        # turn before CloseStream, and that EndOfTurn is legitimate.
        pcm = wav.readframes(int(1.6 * wav.getframerate()))
    url = run_url(emulator, "@cf/deepgram/flux") + "?encoding=linear16&sample_rate=16000"
    events: list[str] = []
    async with session.ws_connect(url) as ws:
        for start in range(0, len(pcm), 3200):
            await ws.send_bytes(pcm[start : start + 3200])
        await ws.send_str(json.dumps({"type": "CloseStream"}))
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                events.append(json.loads(msg.data).get("event") or json.loads(msg.data)["type"])
    assert "Update" in events
    assert "EndOfTurn" not in events
