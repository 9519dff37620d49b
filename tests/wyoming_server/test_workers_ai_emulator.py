"""The Workers AI client end to end against the emulator, with real speech."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.wyoming_server.client_helpers import emulator_client
from wyoming_server.emulator import Emulator
from wyoming_server.workers_ai import WorkersAIClient, audio, catalog, errors

SPEECH = Path(__file__).resolve().parents[1] / "data"  # the recordings, with their licence
LIGHT = "turn on the living room light"
LAMP = "turn on the living room lamp"


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def speech(name: str) -> bytes:
    pcm, rate, width, channels = audio.read_wav((SPEECH / name).read_bytes())
    return audio.convert_pcm(pcm, rate, width, channels, 16000)


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[WorkersAIClient]:
    async with aiohttp.ClientSession() as session:
        yield emulator_client(session, emulator)


@pytest.mark.parametrize("model", [m.model_id for m in catalog.ASR_MODELS])
async def test_every_asr_model_transcribes_real_speech(client: WorkersAIClient, model: str) -> None:
    result = await client.transcribe_pcm(
        model, speech("living_room_light_en.wav"), 16000, language="en"
    )
    assert normalize(result.text) == LIGHT
    assert result.model_id == model


@pytest.mark.parametrize("upload_format", ["wav", "flac"])
async def test_whisper_upload_formats(emulator: Emulator, upload_format: str) -> None:
    async with aiohttp.ClientSession() as session:
        client = WorkersAIClient(
            session,
            emulator.account_id,
            emulator.api_token,
            api_base_url=emulator.base_url,
            upload_format=upload_format,
        )
        result = await client.transcribe_pcm(
            "@cf/openai/whisper", speech("turn_on_the_living_room_lamp.wav"), 16000
        )
    assert normalize(result.text) == LAMP
    assert result.words and result.words[-1].end is not None


async def test_nova3_streams_interim_updates_before_the_end(client: WorkersAIClient) -> None:
    pcm = speech("turn_on_the_living_room_lamp.wav") + bytes(16000)  # + 0.5 s silence
    updates: list[str] = []
    async with client.listen("@cf/deepgram/nova-3", sample_rate=16000, language="en") as session:

        async def collect() -> None:
            async for update in session.updates():
                updates.append(update.text)

        reader = asyncio.create_task(collect())
        for offset in range(0, len(pcm), 3200):  # 100 ms chunks in real time, like a mic
            await session.send_audio(pcm[offset : offset + 3200])
            await asyncio.sleep(0.1)
        before_finish = list(updates)
        result = await session.finish()
        reader.cancel()
    assert before_finish, "no interim transcript while audio was streaming"
    assert normalize(result.text) == LAMP


async def test_flux_whole_utterance_and_end_of_turn(client: WorkersAIClient) -> None:
    pcm = speech("living_room_light_en.wav") + bytes(2 * 16000 * 2)  # 2 s trailing silence
    async with client.listen("@cf/deepgram/flux", sample_rate=16000) as session:
        for offset in range(0, len(pcm), 3200):
            await session.send_audio(pcm[offset : offset + 3200])
            await asyncio.sleep(0.02)
        await asyncio.wait_for(session.end_of_turn.wait(), 10)
        result = await session.finish()
    assert normalize(result.text) == LIGHT


@pytest.mark.parametrize("model", [m.model_id for m in catalog.TTS_MODELS])
async def test_every_tts_model_speaks_the_words(client: WorkersAIClient, model: str) -> None:
    text = "The living room lamp is now on."
    language = "es" if model.endswith("-es") else "en"
    pcm = await client.synthesize_pcm(model, text, language=language, sample_rate=16000)
    assert pcm.duration > 0.5
    heard = await client.transcribe_pcm("@cf/openai/whisper-tiny-en", pcm.pcm, 16000)
    assert normalize(heard.text) == normalize(text)


async def test_aura_rest_default_is_mp3(client: WorkersAIClient) -> None:
    result = await client.synthesize("@cf/deepgram/aura-1", "Hello there.", speaker="zeus")
    assert result.content_type == "audio/mpeg"
    assert audio.decode_audio(result.audio).duration > 0.3


async def test_aura_websocket_pipelines_sentences(client: WorkersAIClient) -> None:
    sentences = ["The living room lamp is now on.", "The front door is locked."]
    async with client.speak("@cf/deepgram/aura-2-en", speaker="luna", sample_rate=16000) as tts:
        for sentence in sentences:
            await tts.send_text(sentence)
        heard = []
        for _ in sentences:
            pcm = b"".join([frame async for frame in tts.flushed_audio()])
            heard.append((await client.transcribe_pcm("whisper-tiny-en", pcm, 16000)).text)
    assert [normalize(h) for h in heard] == [normalize(s) for s in sentences]


async def test_speakers_sound_different(client: WorkersAIClient) -> None:
    durations = {}
    for speaker in ("luna", "zeus", "orion"):
        pcm = await client.synthesize_pcm(
            "aura-2-en", "Turn on the kitchen light.", speaker=speaker
        )
        durations[speaker] = pcm.duration
    assert len(set(durations.values())) == 3


async def test_verify_and_credential_errors(emulator: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        good = WorkersAIClient(
            session, emulator.account_id, emulator.api_token, api_base_url=emulator.base_url
        )
        await good.verify()
        bad_token = WorkersAIClient(
            session, emulator.account_id, "wrong-token", api_base_url=emulator.base_url
        )
        with pytest.raises(errors.AuthenticationError):
            await bad_token.verify()
        with pytest.raises(errors.AuthenticationError):
            await bad_token.transcribe_pcm("whisper", speech("living_room_light_en.wav"), 16000)
        with pytest.raises(errors.AuthenticationError) as refused:
            async with bad_token.listen("nova-3", sample_rate=16000):
                pass
        assert (refused.value.status, refused.value.code) == (401, 10000)
        bad_account = WorkersAIClient(
            session, "f" * 32, emulator.api_token, api_base_url=emulator.base_url
        )
        # §9 C5: a wrong account ID is 401/10000 on /ai/run, 403 on /ai/models/search.
        with pytest.raises(errors.AuthenticationError) as search_refused:
            await bad_account.verify()
        assert search_refused.value.status == 403
        with pytest.raises(errors.AuthenticationError) as run_refused:
            async with bad_account.speak("aura-1"):
                pass
        assert (run_refused.value.status, run_refused.value.code) == (401, 10000)
        assert "account ID" in str(run_refused.value)


async def test_capacity_error_is_retried(client: WorkersAIClient, emulator: Emulator) -> None:
    emulator.faults.fail_next(
        2, status=429, code=3040, message="Capacity temporarily exceeded, please try again."
    )
    result = await client.transcribe_pcm(
        "whisper-tiny-en", speech("living_room_light_en.wav"), 16000
    )
    assert normalize(result.text) == LIGHT
    assert emulator.faults.pending_failures == 0


async def test_server_errors_end_within_the_deadline(emulator: Emulator) -> None:
    emulator.faults.fail_next(50, status=500, code=3001)
    async with aiohttp.ClientSession() as session:
        client = WorkersAIClient(
            session,
            emulator.account_id,
            emulator.api_token,
            api_base_url=emulator.base_url,
            deadline=2.0,
            max_attempts=10,
        )
        with pytest.raises((errors.ServerError, errors.RequestTimeoutError)):
            await client.transcribe_pcm(
                "whisper-tiny-en", speech("living_room_light_en.wav"), 16000
            )
    assert emulator.faults.pending_failures < 50


async def test_dropped_websocket_raises_with_partial_text(
    client: WorkersAIClient, emulator: Emulator
) -> None:
    emulator.faults.ws_drop_after_messages = 1
    pcm = speech("turn_on_the_living_room_lamp.wav")
    with pytest.raises(errors.StreamClosedError) as info:
        async with client.listen("nova-3", sample_rate=16000, language="en") as session:
            for offset in range(0, len(pcm), 3200):
                await session.send_audio(pcm[offset : offset + 3200])
                await asyncio.sleep(0.02)
            await session.finish()
    assert isinstance(info.value.partial_text, str)


async def test_invalid_input_is_not_retried(client: WorkersAIClient) -> None:
    with pytest.raises(errors.InvalidInputError):
        await client.transcribe("whisper-tiny-en", b"definitely not audio" * 20)


async def test_melotts_long_text_is_spoken_whole(client: WorkersAIClient) -> None:
    sentence = "The living room lamp is now on. "
    one = await client.synthesize_pcm("melotts", sentence, sample_rate=16000)
    many = await client.synthesize_pcm("melotts", sentence * 25, sample_rate=16000)  # 800 chars
    # two requests (melotts takes 600 characters), decoded as one MP3 stream
    assert many.duration == pytest.approx(25 * one.duration, rel=0.2)
