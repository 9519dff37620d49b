"""Text to speech end to end: Wyoming client → server subprocess → emulator (real Piper).

Each reply's audio is sent back through the server's speech-to-text (Whisper on the emulator)
to check that it says the words. The emulator speaks English for every voice, so the Spanish
voices get English text here.
"""

from __future__ import annotations

import pytest
from wyoming.asr import Transcribe
from wyoming.event import Event
from wyoming.ping import Ping
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
    normalize,
    pcm_of,
    read_until,
    types,
)
from wyoming_server.emulator import EmulatorProcess

pytest_plugins = ["tests.wyoming_server.server_fixtures"]

# Sentences Whisper tiny.en recognizes reliably in the emulator's (randomized) Piper speech; a
# bare imperative like "Turn on ..." sometimes loses its first word.
WEATHER = "The weather is sunny today."
KITCHEN = "Please turn on the kitchen light."
GARAGE = "Please close the garage door."


async def speech_to_text(server: ServerProcess, pcm: bytes, rate: int) -> str:
    """What Whisper hears in ``pcm`` (16-bit mono at ``rate`` Hz), normalized."""
    async with server.client() as client:
        await client.write_event(Transcribe(name="@cf/openai/whisper", language="en").event())
        for event in audio_events(pcm, rate, 2, 1):
            await client.write_event(event)
        events = await read_until(client, ["transcript"])
    return normalize(events[-1].data["text"])


def assert_one_audio_group(events: list[Event]) -> None:
    """One audio-start, chunks of 16-bit mono at its rate, one audio-stop."""
    kinds = [e.type for e in events]
    assert kinds.count("audio-start") == 1
    assert kinds.count("audio-stop") == 1
    start = events[kinds.index("audio-start")]
    assert start.data["width"] == 2 and start.data["channels"] == 1
    for event in events:
        if event.type == "audio-chunk":
            assert (event.data["rate"], event.data["width"], event.data["channels"]) == (
                start.data["rate"],
                2,
                1,
            )
            assert 0 < len(event.payload or b"") <= 1024 * 2


@pytest.mark.parametrize(
    "voice", ["aura-1-asteria", "aura-2-en-luna", "aura-2-es-aquila", "melotts-en"]
)
async def test_every_tts_model_says_the_words(server: ServerProcess, voice: str) -> None:
    async with server.client() as client:
        await client.write_event(
            Synthesize(text=KITCHEN, voice=SynthesizeVoice(name=voice)).event()
        )
        events = await read_until(client, ["audio-stop"])
    assert "error" not in types(events)
    assert_one_audio_group(events)
    pcm, rate = pcm_of(events)
    assert await speech_to_text(server, pcm, rate) == normalize(KITCHEN)


async def test_default_voice_and_long_text_in_one_audio_group(server: ServerProcess) -> None:
    async with server.client() as client:
        await client.write_event(Synthesize(text=f"{WEATHER} {KITCHEN}").event())
        events = await read_until(client, ["audio-stop"])
    assert_one_audio_group(events)
    assert types(events) == ["audio-start", "audio-chunk", "audio-stop"]
    pcm, rate = pcm_of(events)
    assert await speech_to_text(server, pcm, rate) == normalize(f"{WEATHER} {KITCHEN}")


async def test_melotts_sentences_come_back_in_order(server: ServerProcess) -> None:
    text = f"{WEATHER} {GARAGE} {KITCHEN}"
    async with server.client() as client:
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice("melotts-en")).event())
        events = await read_until(client, ["audio-stop"])
    assert_one_audio_group(events)
    pcm, rate = pcm_of(events)
    assert await speech_to_text(server, pcm, rate) == normalize(text)


@pytest.mark.parametrize("voice", ["aura-2-en-luna", "melotts-en"])
async def test_streaming_audio_starts_before_synthesize_stop(
    server: ServerProcess, voice: str
) -> None:
    """The first sentence is spoken while the client is still sending text (HA's flow)."""
    async with server.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(voice)).event())
        await client.write_event(SynthesizeChunk(text="The weather is sun").event())
        await client.write_event(SynthesizeChunk(text="ny today. Please").event())
        # Nothing more is sent until audio of the first sentence has arrived.
        early = await read_until(client, ["audio-chunk"])
        await client.write_event(SynthesizeChunk(text=" turn on the kitchen light.").event())
        # HA sends the whole text again for old servers; a streaming server ignores it.
        await client.write_event(
            Synthesize(text=f"{WEATHER} {KITCHEN}", voice=SynthesizeVoice(voice)).event()
        )
        await client.write_event(SynthesizeStop().event())
        late = await read_until(client, ["synthesize-stopped"])
        await client.write_event(Ping(text="done").event())
        after = await read_until(client, ["pong"])
    events = early + late
    assert types(events) == ["audio-start", "audio-chunk", "audio-stop", "synthesize-stopped"]
    assert_one_audio_group(events)
    assert [e.type for e in after] == ["pong"]  # no second reply for the compat synthesize
    pcm, rate = pcm_of(events)
    assert await speech_to_text(server, pcm, rate) == normalize(f"{WEATHER} {KITCHEN}")


async def test_run_on_text_without_sentence_ends_is_spoken_before_synthesize_stop(
    server: ServerProcess,
) -> None:
    """An unpunctuated reply must not wait for synthesize-stop (nor grow without bound)."""
    words = "the lamp is on and the door is locked and the heating is at twenty degrees "
    async with server.client() as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice("aura-2-en-luna")).event())
        for _ in range(10):  # about 750 characters, no sentence end
            await client.write_event(SynthesizeChunk(text=words).event())
        early = await read_until(client, ["audio-chunk"])
        await client.write_event(SynthesizeStop().event())
        late = await read_until(client, ["synthesize-stopped"])
    events = early + late
    assert "error" not in types(events)
    assert_one_audio_group(events)


async def test_streaming_without_text_just_stops(server: ServerProcess) -> None:
    async with server.client() as client:
        await client.write_event(SynthesizeStart().event())
        await client.write_event(SynthesizeStop().event())
        events = await read_until(client, ["synthesize-stopped"])
    assert types(events) == ["synthesize-stopped"]


async def test_unknown_voice_plain(server: ServerProcess) -> None:
    async with server.client() as client:
        await client.write_event(
            Synthesize(text=KITCHEN, voice=SynthesizeVoice(name="nope")).event()
        )
        events = await read_until(client, ["audio-stop"])
    assert types(events) == ["error", "audio-stop"]
    assert events[0].data["code"] == "unknown-voice"


async def test_unknown_voice_streaming(server: ServerProcess) -> None:
    async with server.client() as client:
        await client.write_event(
            SynthesizeStart(voice=SynthesizeVoice(name="aura-2-en-nobody")).event()
        )
        await client.write_event(SynthesizeChunk(text=f"{KITCHEN} {GARAGE}").event())
        await client.write_event(SynthesizeStop().event())
        await client.write_event(Ping().event())
        events = await read_until(client, ["pong"])
    assert types(events) == ["error", "synthesize-stopped", "pong"]
    assert events[0].data["code"] == "unknown-voice"


@pytest.mark.parametrize("text", ["", "   ", "***"])
async def test_empty_text_gives_error_and_audio_stop(server: ServerProcess, text: str) -> None:
    async with server.client() as client:
        await client.write_event(Synthesize(text=text).event())
        events = await read_until(client, ["audio-stop"])
    assert types(events) == ["error", "audio-stop"]
    assert events[0].data["code"] == "empty-text"


async def test_synthesize_without_text_field_is_rejected(server: ServerProcess) -> None:
    async with server.client() as client:
        await client.write_event(Event(type="synthesize", data={"voice": "luna"}))
        events = await read_until(client, ["audio-stop"])
    assert types(events) == ["error", "audio-stop"]
    assert events[0].data["code"] == "invalid-event"


async def test_aura_uses_the_websocket_and_rest_only_as_fallback(
    server: ServerProcess, emulator_process: EmulatorProcess
) -> None:
    """Normally no fallback happens; a refused WebSocket (400) falls back to aura REST."""
    log_start = len(server.stderr)
    async with server.client() as client:
        await client.write_event(
            Synthesize(text=KITCHEN, voice=SynthesizeVoice("aura-1-zeus")).event()
        )
        normal = await read_until(client, ["audio-stop"])
    assert "using REST" not in server.stderr[log_start:]

    # The next model call (the WebSocket handshake) is refused with a non-account error.
    await emulator_process.set_faults(fail_next=1, status=400, code=5006)
    async with server.client() as client:
        await client.write_event(
            Synthesize(text=KITCHEN, voice=SynthesizeVoice("aura-1-zeus")).event()
        )
        fallback = await read_until(client, ["audio-stop"])
    assert "using REST" in server.stderr[log_start:]
    for events in (normal, fallback):
        assert types(events) == ["audio-start", "audio-chunk", "audio-stop"]
        pcm, rate = pcm_of(events)
        assert await speech_to_text(server, pcm, rate) == normalize(KITCHEN)


async def test_account_errors_do_not_fall_back_to_rest(
    server: ServerProcess, emulator_process: EmulatorProcess
) -> None:
    """A refused token would be refused over REST too: report it instead of retrying."""
    log_start = len(server.stderr)
    await emulator_process.set_faults(fail_next=1, status=401, code=10000)
    async with server.client() as client:
        # A voice no earlier test left a spare WebSocket for: this reply must open one.
        await client.write_event(
            Synthesize(text=KITCHEN, voice=SynthesizeVoice("aura-2-en-orion")).event()
        )
        events = await read_until(client, ["audio-stop"])
    assert types(events) == ["error", "audio-stop"]
    assert events[0].data["code"].startswith("authentication-error")
    assert "using REST" not in server.stderr[log_start:]


async def test_ssml_is_refused_with_error_and_terminal_events(server: ServerProcess) -> None:
    """text_format "ssml": error ssml-not-supported + audio-stop / synthesize-stopped; the
    connection still speaks the next plain request."""
    async with server.client() as client:
        await client.write_event(
            Event(type="synthesize", data={"text": "<speak>Hi</speak>", "text_format": "ssml"})
        )
        events = await read_until(client, ["audio-stop"])
        assert types(events) == ["error", "audio-stop"]
        assert events[0].data["code"] == "ssml-not-supported"
        await client.write_event(Event(type="synthesize-start", data={"text_format": "ssml"}))
        await client.write_event(SynthesizeChunk(text="<speak>Hi</speak>").event())
        await client.write_event(SynthesizeStop().event())
        events = await read_until(client, ["synthesize-stopped"])
        assert types(events) == ["error", "synthesize-stopped"]
        assert events[0].data["code"] == "ssml-not-supported"
        await client.write_event(Synthesize(text=WEATHER).event())
        events = await read_until(client, ["audio-stop"])
        assert_one_audio_group(events)
