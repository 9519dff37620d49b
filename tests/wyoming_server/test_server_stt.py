"""Speech to text end to end: Wyoming client → server subprocess → emulator (real Whisper).

The recordings are real human speech from ``tests/data`` (transcripts in its README).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.ping import Ping

from tests.wyoming_server.server_harness import (
    ServerProcess,
    audio_events,
    normalize,
    read_until,
    read_wav,
    types,
    workers_ai_stand_in,
)
from wyoming_server.workers_ai import catalog

pytest_plugins = ["tests.wyoming_server.server_fixtures"]

ENGLISH = {
    "turn_on_the_living_room_lamp.wav": "turn on the living room lamp",  # 44.1 kHz stereo
    "living_room_light_en.wav": "turn on the living room light",  # 16 kHz mono
}


async def transcribe(
    server: ServerProcess, wav: Path, name: str | None = None, language: str | None = "en"
) -> list[Event]:
    """Send one utterance the way HA does; return every event up to ``transcript-stop``."""
    pcm, rate, width, channels = read_wav(wav)
    async with server.client() as client:
        await client.write_event(Transcribe(name=name, language=language).event())
        for event in audio_events(pcm, rate, width, channels):
            await client.write_event(event)
        return await read_until(client, ["transcript-stop"])


def transcript_of(events: list[Event]) -> Event:
    [transcript] = [e for e in events if e.type == "transcript"]
    return transcript


def assert_stream_consistent(events: list[Event]) -> None:
    """transcript-start, chunks, transcript, transcript-stop; chunks add up to the transcript."""
    kinds = [e.type for e in events]
    assert kinds[0] == "transcript-start"
    assert kinds[-2:] == ["transcript", "transcript-stop"]
    assert set(kinds[1:-2]) <= {"transcript-chunk"}
    chunks = "".join(e.data["text"] for e in events if e.type == "transcript-chunk")
    assert chunks == transcript_of(events).data["text"]


@pytest.mark.parametrize("recording", sorted(ENGLISH))
async def test_every_english_recording_with_the_default_model(
    server: ServerProcess, speech_dir: Path, recording: str
) -> None:
    events = await transcribe(server, speech_dir / recording, name=None)
    assert "error" not in types(events)
    assert normalize(transcript_of(events).data["text"]) == ENGLISH[recording]
    assert transcript_of(events).data["language"] == "en"
    assert_stream_consistent(events)


@pytest.mark.parametrize("model", [m.model_id for m in catalog.ASR_MODELS])
@pytest.mark.parametrize("recording", sorted(ENGLISH))
async def test_every_asr_model(
    server: ServerProcess, speech_dir: Path, model: str, recording: str
) -> None:
    events = await transcribe(server, speech_dir / recording, name=model)
    assert "error" not in types(events), events
    assert normalize(transcript_of(events).data["text"]) == ENGLISH[recording]
    assert_stream_consistent(events)


async def test_short_model_names_and_regional_language_tags(
    server: ServerProcess, speech_dir: Path
) -> None:
    events = await transcribe(
        server, speech_dir / "living_room_light_en.wav", name="whisper-tiny-en", language="en_US"
    )
    assert normalize(transcript_of(events).data["text"]) == ENGLISH["living_room_light_en.wav"]


async def test_transcribe_is_optional(server: ServerProcess, speech_dir: Path) -> None:
    pcm, rate, width, channels = read_wav(speech_dir / "living_room_light_en.wav")
    async with server.client() as client:
        for event in audio_events(pcm, rate, width, channels):
            await client.write_event(event)
        events = await read_until(client, ["transcript-stop"])
    assert normalize(transcript_of(events).data["text"]) == ENGLISH["living_room_light_en.wav"]


async def test_one_connection_serves_several_utterances(
    server: ServerProcess, speech_dir: Path
) -> None:
    async with server.client() as client:
        for recording in sorted(ENGLISH):
            pcm, rate, width, channels = read_wav(speech_dir / recording)
            await client.write_event(Transcribe(language="en").event())
            for event in audio_events(pcm, rate, width, channels):
                await client.write_event(event)
            events = await read_until(client, ["transcript-stop"])
            assert normalize(transcript_of(events).data["text"]) == ENGLISH[recording]


async def test_no_audio_gives_an_empty_transcript(server: ServerProcess) -> None:
    async with server.client() as client:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        await client.write_event(AudioStop().event())
        events = await read_until(client, ["transcript-stop"])
    assert transcript_of(events).data["text"] == ""


async def test_a_language_the_default_model_lacks_falls_back_to_whisper(
    server: ServerProcess, speech_dir: Path
) -> None:
    """HA offers the languages of every listed model but never names one: Swedish is not a
    nova-3 language (the default), so the multilingual Whisper answers instead of an error."""
    pcm, rate, width, channels = read_wav(speech_dir / "living_room_light_en.wav")
    async with server.client() as client:
        await client.write_event(Transcribe(language="sv").event())
        for event in audio_events(pcm, rate, width, channels):
            await client.write_event(event)
        events = await read_until(client, ["transcript-stop"])
    assert "error" not in types(events)
    transcript = transcript_of(events)
    assert transcript.data["language"] == "sv"
    # The emulator's Whisper is English-only, so the English words come back.
    assert normalize(transcript.data["text"]) == "turn on the living room light"


@pytest.mark.parametrize(
    ("transcribe_event", "code"),
    [
        (Transcribe(name="@cf/openai/no-such-model", language="en").event(), "unknown-model"),
        (Transcribe(name="@cf/deepgram/aura-2-en", language="en").event(), "unknown-model"),
        (Transcribe(name="flux", language="de").event(), "unsupported-language"),
        (Event(type="transcribe", data={"name": 42}), "invalid-event"),
    ],
)
async def test_bad_transcribe_gives_error_and_empty_transcript(
    server: ServerProcess, speech_dir: Path, transcribe_event: Event, code: str
) -> None:
    """HA ignores error events and waits for a transcript: both must come, once."""
    pcm, rate, width, channels = read_wav(speech_dir / "living_room_light_en.wav")
    async with server.client() as client:
        await client.write_event(transcribe_event)
        for event in audio_events(pcm, rate, width, channels):
            await client.write_event(event)
        await client.write_event(Ping(text="after").event())
        events = await read_until(client, ["pong"])
    assert types(events) == [
        "error",
        "transcript-start",
        "transcript",
        "transcript-stop",
        "pong",
    ]
    assert events[0].data["code"] == code
    assert transcript_of(events).data["text"] == ""


@pytest.mark.parametrize(
    "fmt",
    [
        {"rate": 16000, "width": 3, "channels": 1},
        {"rate": 0, "width": 2, "channels": 1},
        {"rate": 16000, "width": 2, "channels": 0},
        {"rate": "16000", "width": 2, "channels": 1},
    ],
)
async def test_bad_audio_format_gives_error_and_the_next_utterance_works(
    server: ServerProcess, speech_dir: Path, fmt: dict[str, object]
) -> None:
    pcm, rate, width, channels = read_wav(speech_dir / "living_room_light_en.wav")
    async with server.client() as client:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(Event(type="audio-start", data=fmt))
        await client.write_event(Event(type="audio-chunk", data=fmt, payload=bytes(3000)))
        await client.write_event(AudioStop().event())
        events = await read_until(client, ["transcript-stop"])
        assert types(events) == ["error", "transcript-start", "transcript", "transcript-stop"]
        assert events[0].data["code"] == "unsupported-audio-format"
        assert transcript_of(events).data["text"] == ""

        await client.write_event(Transcribe(language="en").event())
        for event in audio_events(pcm, rate, width, channels):
            await client.write_event(event)
        events = await read_until(client, ["transcript-stop"])
    assert normalize(transcript_of(events).data["text"]) == ENGLISH["living_room_light_en.wav"]


async def test_audio_format_change_mid_stream_is_converted(
    server: ServerProcess, speech_dir: Path
) -> None:
    """The chunks carry their own format; a change mid-utterance is followed."""
    pcm, rate, width, channels = read_wav(speech_dir / "living_room_light_en.wav")
    half = len(pcm) // 2 // 2 * 2
    async with server.client() as client:
        await client.write_event(Transcribe(name="whisper-tiny-en", language="en").event())
        await client.write_event(AudioStart(rate=rate, width=width, channels=channels).event())
        await client.write_event(
            AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[:half]).event()
        )
        # Second half as stereo: every sample duplicated into two channels.
        second = b"".join(pcm[i : i + 2] * 2 for i in range(half, len(pcm), 2))
        await client.write_event(
            AudioChunk(rate=rate, width=width, channels=2, audio=second).event()
        )
        await client.write_event(AudioStop().event())
        events = await read_until(client, ["transcript-stop"])
    assert normalize(transcript_of(events).data["text"]) == ENGLISH["living_room_light_en.wav"]


@pytest.mark.parametrize("tag", ["nb", "nb-NO", "nb_NO"])
async def test_norwegian_bokmal_reaches_whisper_as_norwegian(speech_dir: Path, tag: str) -> None:
    """Home Assistant's Norwegian is Bokmål (``nb``); Whisper knows only ``no``
    (https://github.com/openai/whisper/blob/main/whisper/tokenizer.py), so that is what the
    server sends. A stand-in for Workers AI records the JSON body whisper-large-v3-turbo gets."""
    seen: list[object] = []

    async def workers_ai(request: web.Request) -> web.StreamResponse:
        seen.append((await request.json()).get("language"))
        info = {"language": "no", "duration": 1.0}
        result = {"text": "Slå på lyset.", "transcription_info": info}
        return web.json_response({"success": True, "result": result})

    env = {"CLOUDFLARE_ACCOUNT_ID": "a" * 32, "CLOUDFLARE_API_TOKEN": "api-token"}
    async with workers_ai_stand_in(workers_ai) as port:
        args = ["--api-base-url", f"http://127.0.0.1:{port}/client/v4"]
        async with ServerProcess(args, env) as own:
            events = await transcribe(
                own, speech_dir / "living_room_light_en.wav", catalog.WHISPER_LARGE_V3_TURBO, tag
            )
    assert "error" not in types(events), events
    assert seen == ["no"]
    assert transcript_of(events).data["text"] == "Slå på lyset."
