"""describe → info, ping, unknown events: a real Wyoming client against the server subprocess."""

from __future__ import annotations

import dataclasses

from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping

from tests.wyoming_server.server_harness import ServerProcess, read_until
from wyoming_server.workers_ai import catalog

pytest_plugins = ["tests.wyoming_server.server_fixtures"]  # the `server` fixture


async def describe(server: ServerProcess) -> tuple[Event, Info]:
    async with server.client() as client:
        await client.write_event(Describe().event())
        event = (await read_until(client, ["info"]))[-1]
    return event, Info.from_event(event)


async def test_one_asr_program_lists_every_model_default_first(server: ServerProcess) -> None:
    _, info = await describe(server)
    assert len(info.asr) == 1
    program = info.asr[0]
    assert program.installed
    assert program.supports_transcript_streaming
    assert program.requires_external_vad  # nova-3 does not end turns: HA's VAD must
    assert program.prefers_auto_gain_enabled and program.prefers_noise_reduction_enabled
    assert program.version
    assert program.attribution.name and program.attribution.url.startswith("https://")
    names = [model.name for model in program.models]
    assert names[0] == catalog.NOVA_3  # the server default: HA only ever uses it
    assert sorted(names) == sorted(m.model_id for m in catalog.ASR_MODELS)
    for model in program.models:
        entry = catalog.get_model(model.name)
        assert model.installed
        assert model.languages == list(entry.languages)
        assert model.attribution.name == entry.vendor
        assert model.description


async def test_one_tts_program_lists_every_voice_with_unique_names(server: ServerProcess) -> None:
    _, info = await describe(server)
    assert len(info.tts) == 1
    program = info.tts[0]
    assert program.installed and program.supports_synthesize_streaming and program.version
    names = [voice.name for voice in program.voices]
    assert names[0] == "aura-2-en-luna"
    assert len(names) == len(set(names))
    assert set(names) == {voice.name for voice in catalog.voices()}
    luna = program.voices[0]
    assert luna.description == "Luna (Aura 2, English)"
    assert luna.languages == ["en"]
    vendors = {voice.attribution.name for voice in program.voices}
    assert vendors == {"Deepgram", "MyShell.ai"}
    assert {"melotts-zh", "aura-2-es-aquila", "aura-1-angus"} <= set(names)
    # MeloTTS: only the languages Workers AI accepts (404/8002 for es and fr).
    assert {n for n in names if n.startswith("melotts")} == {
        "melotts-en",
        "melotts-zh",
        "melotts-ja",
        "melotts-ko",
    }
    assert all(voice.installed and voice.description for voice in program.voices)


async def test_info_has_every_field_wyoming_1_7_needs(server: ServerProcess) -> None:
    """HA's bundled wyoming fails on a missing required field (doc §1.3)."""
    event, _ = await describe(server)
    for program in event.data["asr"] + event.data["tts"]:
        for key in ("name", "attribution", "installed", "description", "version"):
            assert key in program
        for artifact in program.get("models", []) + program.get("voices", []):
            assert {"name", "attribution", "installed", "languages"} <= artifact.keys()
            assert {"name", "url"} <= artifact["attribution"].keys()
    assert event.data["wake"] == [] and event.data["handle"] == []


async def test_ping_gets_pong_and_unknown_events_are_ignored(server: ServerProcess) -> None:
    async with server.client() as client:
        await client.write_event(Event(type="no-such-event", data={"x": 1}))
        await client.write_event(Event(type="select-program", data={"name": "workers-ai-stt"}))
        await client.write_event(Ping(text="hello").event())
        events = await read_until(client, ["pong"])
        assert [e.type for e in events] == ["pong"]
        assert events[0].data["text"] == "hello"
        # The connection still works after the unknown events.
        await client.write_event(Describe().event())
        info = Info.from_event((await read_until(client, ["info"]))[-1])
        assert dataclasses.asdict(info)["asr"]
