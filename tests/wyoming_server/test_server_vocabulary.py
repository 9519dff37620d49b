"""The server's vocabulary and usage, end to end: Wyoming client → server subprocess →
emulator, with names from a keyterms file and from a (fake) Home Assistant over its WebSocket
API, and Prometheus metrics scraped over HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from wyoming.asr import Transcribe
from wyoming.tts import Synthesize

from tests.wyoming_server.server_harness import (
    ServerProcess,
    audio_events,
    emulator_args,
    emulator_env,
    read_until,
)
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import WorkersAIClient, catalog

PLANTUARY = "Turn off the lights in the plantuary."
QUOKKA = "Turn off the Quokka nightlight."
HA_TOKEN = "long-lived-test-token"


class FakeHomeAssistant:
    """Home Assistant's WebSocket API, the commands the server uses, on loopback."""

    def __init__(self) -> None:
        self.areas: list[dict[str, Any]] = [
            {"area_id": "plant", "name": "Plantuary", "aliases": [], "floor_id": "ground"}
        ]
        self.floors = [{"floor_id": "ground", "name": "Mezzanine", "aliases": ["Entresol"]}]
        self.states = [
            {"entity_id": "fan.z", "attributes": {"friendly_name": "Zephyr fan"}},
            {"entity_id": "light.hidden", "attributes": {"friendly_name": "Secret lamp"}},
        ]
        self.exposed = {"fan.z": {"conversation": True}, "light.hidden": {"cloud.alexa": True}}
        self.entries = {"fan.z": {"entity_id": "fan.z", "aliases": ["Breezy", None]}}
        self.commands: list[str] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.subscriptions: dict[web.WebSocketResponse, dict[str, int]] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/websocket", self._websocket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for ws in self.sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def fire(self, event_type: str) -> None:
        """Send ``event_type`` to every subscriber."""
        for ws, subscriptions in self.subscriptions.items():
            if event_type in subscriptions:
                await ws.send_json(
                    {
                        "id": subscriptions[event_type],
                        "type": "event",
                        "event": {"event_type": event_type, "data": {}},
                    }
                )

    def _result(self, message: dict[str, Any]) -> Any:
        match message["type"]:
            case "homeassistant/expose_entity/list":
                return {"exposed_entities": self.exposed}
            case "config/entity_registry/get_entries":
                return {eid: self.entries.get(eid) for eid in message["entity_ids"]}
            case "get_states":
                return self.states
            case "config/area_registry/list":
                return self.areas
            case "config/floor_registry/list":
                return self.floors
        return None

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "auth_required", "ha_version": "2026.10.4"})
        auth = await ws.receive_json()
        if auth.get("access_token") != HA_TOKEN:
            await ws.send_json({"type": "auth_invalid", "message": "Invalid access token"})
            await ws.close()
            return ws
        await ws.send_json({"type": "auth_ok", "ha_version": "2026.10.4"})
        self.subscriptions[ws] = {}
        async for raw in ws:
            message = json.loads(raw.data)
            self.commands.append(message["type"])
            if message["type"] == "subscribe_events":
                self.subscriptions[ws][message["event_type"]] = message["id"]
                result = None
            else:
                result = self._result(message)
            await ws.send_json(
                {"id": message["id"], "type": "result", "success": True, "result": result}
            )
        return ws


@pytest.fixture
async def home_assistant() -> AsyncIterator[FakeHomeAssistant]:
    fake = FakeHomeAssistant()
    await fake.start()
    yield fake
    await fake.stop()


async def speech(emulator: EmulatorProcess, text: str) -> bytes:
    """``text`` spoken by the emulator's voice, 16 kHz mono s16le."""
    async with aiohttp.ClientSession() as session:
        client = WorkersAIClient(
            session, emulator.account_id, emulator.api_token, api_base_url=emulator.base_url
        )
        return (await client.synthesize_pcm(catalog.AURA_2_EN, text, sample_rate=16000)).pcm


async def transcribe(server: ServerProcess, pcm: bytes) -> str:
    async with server.client() as client:
        await client.write_event(Transcribe(language="en").event())
        for event in audio_events(pcm, 16000, 2, 1):
            await client.write_event(event)
        events = await read_until(client, ["transcript"])
    return str(events[-1].data["text"]).lower()


async def wait_for(condition: Any, what: str, timeout: float = 30.0) -> None:
    """Poll ``condition()`` (a log line, a command the fake saw) every 50 ms."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_keyterms_file_is_reread_when_it_changes(
    emulator_process: EmulatorProcess, tmp_path: Path
) -> None:
    terms = tmp_path / "keyterms.txt"
    terms.write_text("# names of this home\n\n")
    pcm = await speech(emulator_process, QUOKKA)
    args = emulator_args(emulator_process, "--keyterms-file", str(terms))
    async with ServerProcess(args, emulator_env(emulator_process)) as server:
        assert "quokka" not in await transcribe(server, pcm)
        terms.write_text("# names of this home\nQuokka nightlight\n")
        assert "quokka nightlight" in await transcribe(server, pcm)
        assert "Loaded 1 key terms" in server.stderr


async def test_home_assistant_names_reach_the_model_and_refresh(
    emulator_process: EmulatorProcess, home_assistant: FakeHomeAssistant, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text(HA_TOKEN + "\n")
    pcm = await speech(emulator_process, PLANTUARY)
    args = emulator_args(
        emulator_process, "--hass-url", home_assistant.url, "--hass-token-file", str(token)
    )
    async with ServerProcess(args, emulator_env(emulator_process)) as server:
        await wait_for(lambda: "config/floor_registry/list" in home_assistant.commands, "names")
        # Plantuary, Mezzanine, Entresol, Zephyr fan, Breezy (light.hidden is not exposed).
        await wait_for(lambda: "Home Assistant names: 5 terms" in server.stderr, "names log")
        assert "plantuary" in await transcribe(server, pcm)
        # A rename in Home Assistant reaches the server without a restart.
        home_assistant.areas = [{"area_id": "plant", "name": "Orangery", "aliases": ["Atrium"]}]
        await home_assistant.fire("area_registry_updated")
        await wait_for(lambda: home_assistant.commands.count("get_states") == 2, "refresh")
        await wait_for(lambda: "Home Assistant names: 6 terms" in server.stderr, "refresh log")
        assert "plantuary" not in await transcribe(server, pcm)
    assert HA_TOKEN not in server.stderr


async def test_a_refused_home_assistant_token_is_logged_and_speech_still_works(
    emulator_process: EmulatorProcess, home_assistant: FakeHomeAssistant, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("wrong-token")
    pcm = await speech(emulator_process, PLANTUARY)
    args = emulator_args(
        emulator_process, "--hass-url", home_assistant.url, "--hass-token-file", str(token)
    )
    async with ServerProcess(args, emulator_env(emulator_process)) as server:
        await wait_for(lambda: "refused the access token" in server.stderr, "log")
        assert "plant" in await transcribe(server, pcm)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition ``text``."""
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    raise AssertionError(f"no sample {name} {labels} in:\n{text}")


async def test_metrics_count_usage_and_latency(emulator_process: EmulatorProcess) -> None:
    port = free_port()
    pcm = await speech(emulator_process, PLANTUARY)
    args = emulator_args(
        emulator_process, "--metrics-port", str(port), "--metrics-host", "127.0.0.1"
    )
    async with ServerProcess(args, emulator_env(emulator_process)) as server:
        await transcribe(server, pcm)
        async with server.client() as client:
            await client.write_event(Synthesize(text="Good night.").event())
            await read_until(client, ["audio-stop"])
        # A WebSocket session is counted when it closes, just after the reply's terminal
        # events (the client may scrape first): poll for up to 5 s.
        async with aiohttp.ClientSession() as session:
            for _ in range(50):
                async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                    assert response.status == 200
                    text = await response.text()
                if f'workers_ai_characters_total{{model="{catalog.AURA_2_EN}"' in text:
                    break
                await asyncio.sleep(0.1)
    nova = {"model": catalog.NOVA_3, "transport": "websocket"}
    seconds = len(pcm) / 32000
    assert metric(text, "workers_ai_audio_seconds_total", **nova) == pytest.approx(seconds, abs=0.1)
    assert metric(text, "workers_ai_neurons_total", **nova, source="estimate") == pytest.approx(
        836.36 * seconds / 60, rel=0.05
    )
    assert metric(text, "workers_ai_characters_total", model=catalog.AURA_2_EN) == len(
        "Good night."
    )
    assert metric(text, "workers_ai_neurons_today") > 0
    assert (
        metric(
            text,
            "wyoming_stt_wait_after_end_of_speech_seconds_count",
            model=catalog.NOVA_3,
            end="audio-stop",
        )
        == 1
    )
    assert (
        metric(text, "wyoming_tts_time_to_first_audio_seconds_count", voice="aura-2-en-luna") == 1
    )


def test_an_add_on_reads_names_through_the_supervisor_without_configuration(
    tmp_path: Path,
) -> None:
    from wyoming_server.server.cli import build_parser  # noqa: PLC0415
    from wyoming_server.server.extras import ExtrasError, hass_connection  # noqa: PLC0415

    parser = build_parser()
    assert hass_connection(parser.parse_args([]), {}) is None
    assert hass_connection(parser.parse_args([]), {"SUPERVISOR_TOKEN": "abc"}) == (
        "http://supervisor/core",
        "abc",
    )
    token = tmp_path / "token"
    token.write_text(" secret \n")
    args = parser.parse_args(["--hass-url", "http://ha:8123", "--hass-token-file", str(token)])
    assert hass_connection(args, {"SUPERVISOR_TOKEN": "abc"}) == ("http://ha:8123", "secret")
    with pytest.raises(ExtrasError, match="go together"):
        hass_connection(parser.parse_args(["--hass-url", "http://ha:8123"]), {})
    token.write_text("")
    with pytest.raises(ExtrasError, match="empty"):
        hass_connection(args, {})
