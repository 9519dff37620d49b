"""A real Home Assistant 2026.10 with this component, configured against the emulator, as
``script/develop --check`` sets it up: its own config dir, HTTP on loopback, a user onboarded
over the REST API, the integration added through its config flow.

Home Assistant runs in its own Python 3.14 environment (``.venv-test``, made by
``script/setup --test``) as a subprocess; this module only speaks HTTP and WebSocket to it, so
it imports no Home Assistant code.

One addition to ``script/develop``'s setup: Home Assistant's VAD calls pymicro-vad 1.x's
``MicroVad.Process10ms``, and pymicro-vad 1.0.1 (Home Assistant's pin) has no build for
Python 3.14 here, only 2.x, whose method is ``process_10ms`` (same 10 ms of 16 kHz s16le in,
speech probability out). A two-line integration written into the config dir gives the class the
old name, so pipelines run with Home Assistant's own VAD, as a satellite's do.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from wyoming_server.emulator import EmulatorProcess

from .harness import REPO, free_port, stop_process

HASS_PYTHON = REPO / ".venv-test" / "bin" / "python"
DOMAIN = "workers_ai_speech"

CONFIGURATION_YAML = """\
# Written by benchmarks/ha_instance.py (script/develop's set, quieter logs).
homeassistant:
  name: Workers AI Voice (benchmark)
  time_zone: UTC
  country: US
  language: en
config:
assist_pipeline:
conversation:
stt:
tts:
ffmpeg:
assist_vad_compat:
logger:
  default: warning
"""

VAD_COMPAT = {
    "manifest.json": json.dumps(
        {
            "domain": "assist_vad_compat",
            "name": "pymicro-vad 2.x under its 1.x name (benchmark only)",
            "codeowners": [],
            "documentation": "https://github.com/rhasspy/pymicro-vad",
            "iot_class": "local_push",
            "requirements": [],
            "version": "0.0.0",
        }
    ),
    "__init__.py": '''"""pymicro-vad 2.x's process_10ms under 1.x's name, which Home Assistant calls."""

from pymicro_vad import MicroVad

if not hasattr(MicroVad, "Process10ms"):
    MicroVad.Process10ms = MicroVad.process_10ms


async def async_setup(hass, config):
    return True
''',
}

HTTP_STORAGE = """
import json, sys
from homeassistant.components.http.config import (
    HTTP_STORAGE_SCHEMA, STORAGE_MINOR_VERSION, STORAGE_VERSION,
)
from homeassistant.util import dt as dt_util

path, port = sys.argv[1], int(sys.argv[2])
stable = HTTP_STORAGE_SCHEMA({"server_host": ["127.0.0.1"], "server_port": port})
stable |= {"created_at": dt_util.utcnow().isoformat(), "error": None, "error_message": None}
data = {"stable": stable, "pending": None, "yaml_migration_done": True}
doc = {"version": STORAGE_VERSION, "minor_version": STORAGE_MINOR_VERSION, "key": "http",
       "data": data}
with open(path, "w") as file:
    json.dump(doc, file, indent=2)
"""
"""A confirmed HTTP config on loopback (YAML ``http:`` would be a trial that reverts to
0.0.0.0 after 5 minutes), as ``script/develop`` writes it."""


@dataclass
class HomeAssistant:
    """A running Home Assistant: its URL, an admin token, one WebSocket for commands."""

    url: str
    token: str
    http: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse
    config_dir: Path
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def next_id(self) -> int:
        return next(self._ids)

    async def call(self, message: dict[str, Any]) -> Any:
        """One WebSocket command; its result (raises ``RuntimeError`` if it failed)."""
        message_id = self.next_id()
        await self.ws.send_json({"id": message_id, **message})
        while True:
            answer = await self.ws.receive_json(timeout=60)
            if answer.get("id") == message_id and answer["type"] == "result":
                if not answer["success"]:
                    raise RuntimeError(f"{message['type']} failed: {answer.get('error')}")
                return answer["result"]

    async def rest(self, method: str, path: str, payload: Any = None) -> Any:
        """One REST call with the admin token; its JSON answer."""
        async with self.http.request(
            method, f"{self.url}{path}", json=payload, headers=self.headers
        ) as response:
            if response.status >= 400:
                raise RuntimeError(f"{method} {path}: {response.status} {await response.text()}")
            return await response.json()

    async def add_stt_service(self, entry_id: str, model_id: str, name: str) -> None:
        """Add a speech-to-text subentry for ``model_id`` through its subentry flow."""
        flow = await self.rest(
            "POST",
            "/api/config/config_entries/subentries/flow",
            {"handler": [entry_id, "stt"], "show_advanced_options": False},
        )
        path = f"/api/config/config_entries/subentries/flow/{flow['flow_id']}"
        step = await self.rest("POST", path, {"model": model_id})
        result = await self.rest("POST", path, {"name": name})
        if result.get("type") != "create_entry":
            raise RuntimeError(f"subentry flow for {model_id}: {result} (after {step})")

    async def stt_entities(self, entry_id: str) -> dict[str, str]:
        """``{subentry title: stt entity ID}`` of the entry."""
        subentries = await self.call(
            {"type": "config_entries/subentries/list", "entry_id": entry_id}
        )
        titles = {s["subentry_id"]: s["title"] for s in subentries}
        entities = await self.call({"type": "config/entity_registry/list"})
        return {
            titles[e["config_subentry_id"]]: e["entity_id"]
            for e in entities
            if e.get("config_entry_id") == entry_id
            and e["entity_id"].startswith("stt.")
            and e.get("config_subentry_id") in titles
        }


async def _wait_for(check: Any, what: str, timeout: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            if result := await check():
                return result
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)


def write_config_dir(config: Path, port: int, python: Path) -> None:
    """``configuration.yaml``, the component (a link to this checkout's), the VAD name shim
    and the confirmed loopback HTTP settings."""
    components = config / "custom_components"
    (components / "assist_vad_compat").mkdir(parents=True)
    (config / ".storage").mkdir()
    (components / DOMAIN).symlink_to(REPO / "custom_components" / DOMAIN)
    for name, text in VAD_COMPAT.items():
        (components / "assist_vad_compat" / name).write_text(text)
    (config / "configuration.yaml").write_text(CONFIGURATION_YAML)
    subprocess.run(
        [str(python), "-c", HTTP_STORAGE, str(config / ".storage" / "http"), str(port)],
        check=True,
    )


@contextlib.asynccontextmanager
async def home_assistant(
    emu: EmulatorProcess, python: Path = HASS_PYTHON
) -> AsyncIterator[HomeAssistant]:
    """Home Assistant with the integration added against ``emu`` (its first services: nova-3
    and aura-2-en); stopped and its config dir removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="workers-ai-ha-bench-") as tmp:
        config = Path(tmp)
        port = free_port()
        write_config_dir(config, port, python)
        log = (config / "hass.out").open("wb")
        process = await asyncio.create_subprocess_exec(
            str(python), "-m", "homeassistant", "--config", str(config),
            "--skip-pip-packages", "pymicro-vad,pyspeex-noise",
            cwd=config, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                token = await _onboard(http, url, process)
                ws = await http.ws_connect(f"{url}/api/websocket", max_msg_size=0)
                await ws.receive_json()
                await ws.send_json({"type": "auth", "access_token": token})
                if (await ws.receive_json())["type"] != "auth_ok":
                    raise RuntimeError("WebSocket authentication failed")
                hass = HomeAssistant(url, token, http, ws, config)
                try:
                    yield hass
                finally:
                    await ws.close()
        except BaseException:
            log.flush()
            tail = (config / "hass.out").read_text(errors="replace")[-3000:]
            print(f"Home Assistant output (tail):\n{tail}", file=sys.stderr)
            raise
        finally:
            await stop_process(process)
            log.close()


async def _onboard(
    http: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process
) -> str:
    """Onboard a user, wait for RUNNING; the access token."""
    client_id = f"{url}/"

    async def onboarding_open() -> bool:
        if process.returncode is not None:
            raise RuntimeError(f"Home Assistant exited ({process.returncode})")
        async with http.get(f"{url}/api/onboarding") as r:
            return r.status == 200

    await _wait_for(onboarding_open, "Home Assistant's HTTP server")
    async with http.post(
        f"{url}/api/onboarding/users",
        json={
            "client_id": client_id, "name": "Benchmark", "username": "benchmark",
            "password": "benchmark-ha-pipeline", "language": "en",
        },
    ) as r:  # fmt: skip
        r.raise_for_status()
        code = (await r.json())["auth_code"]
    async with http.post(
        f"{url}/auth/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": client_id},
    ) as r:
        r.raise_for_status()
        token = str((await r.json())["access_token"])

    async def running() -> bool:
        async with http.get(f"{url}/api/config", headers={"Authorization": f"Bearer {token}"}) as r:
            return r.status == 200 and (await r.json()).get("state") == "RUNNING"

    await _wait_for(running, "state RUNNING")
    return token


async def add_integration(hass: HomeAssistant, emu: EmulatorProcess) -> str:
    """The integration's config flow against ``emu``; the entry ID."""
    flow = await hass.rest("POST", "/api/config/config_entries/flow", {"handler": DOMAIN})
    result = await hass.rest(
        "POST",
        f"/api/config/config_entries/flow/{flow['flow_id']}",
        {
            "account_id": emu.account_id,
            "api_token": emu.api_token,
            "advanced": {"api_base_url": emu.base_url},
        },
    )
    if result.get("type") != "create_entry":
        raise RuntimeError(f"config flow did not create an entry: {result}")
    return str(result["result"]["entry_id"])
