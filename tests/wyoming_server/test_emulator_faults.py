"""Fault injection, in-process (``emulator.faults``) and over the HTTP control API of an
emulator subprocess (``EmulatorProcess``), plus the standalone CLI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from wyoming_server.emulator import DEFAULT_API_TOKEN, Emulator, EmulatorProcess

SPEECH = Path(__file__).resolve().parents[1] / "data"  # the recordings, with their licence
CAPACITY = "Capacity temporarily exceeded, please try again."
MELOTTS = "@cf/myshell-ai/melotts"


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {emulator.api_token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield session


async def melotts(http: aiohttp.ClientSession, base: Any) -> tuple[int, dict[str, Any]]:
    async with http.post(base.run_url(MELOTTS), json={"prompt": "Hi.", "lang": "en"}) as resp:
        return resp.status, await resp.json()


async def test_fail_next_serves_the_given_errors_then_recovers(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.fail_next(2, status=429, code=3040, message=CAPACITY)
    for _ in range(2):
        status, body = await melotts(http, emulator)
        assert status == 429
        assert body == {
            "result": None,
            "success": False,
            "errors": [{"code": 3040, "message": CAPACITY}],
            "messages": [],
        }
    status, body = await melotts(http, emulator)
    assert status == 200
    assert body["success"] is True
    assert emulator.faults.pending_failures == 0


async def test_fail_next_applies_to_websocket_handshakes_not_to_models_search(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.fail_next(1, status=500, code=3001, message="Internal server error")
    search = f"{emulator.base_url}/accounts/{emulator.account_id}/ai/models/search"
    async with http.get(search) as resp:
        assert resp.status == 200
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await http.ws_connect(emulator.run_url("@cf/deepgram/aura-1"))
    assert err.value.status == 500
    async with http.ws_connect(emulator.run_url("@cf/deepgram/aura-1")) as ws:
        assert (await ws.receive_json())["type"] == "Metadata"


async def test_latency_and_model_latency_delay_answers(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    search = f"{emulator.base_url}/accounts/{emulator.account_id}/ai/models/search"
    emulator.faults.latency_ms = 300
    started = time.monotonic()
    async with http.get(search) as resp:
        assert resp.status == 200
    assert time.monotonic() - started >= 0.3
    emulator.faults.latency_ms = 0
    emulator.faults.model_latency_ms = 1500  # far above a short synthesis
    started = time.monotonic()
    status, _ = await melotts(http, emulator)
    assert status == 200
    assert time.monotonic() - started >= 1.5
    emulator.faults.reset()
    assert emulator.faults.model_latency_ms == 0


async def test_upload_bandwidth_throttles_request_bodies(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    audio = (SPEECH / "living_room_light_en.wav").read_bytes()  # about 76 kB
    emulator.faults.upload_bytes_per_second = 100_000
    started = time.monotonic()
    async with http.post(emulator.run_url("@cf/openai/whisper-tiny-en"), data=audio) as resp:
        assert resp.status == 200
        assert "living room light" in (await resp.json())["result"]["text"].lower()
    assert time.monotonic() - started >= len(audio) / 100_000 * 0.9


async def test_websocket_audio_is_received_at_the_upload_rate(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """2 s of audio sent at once over a 32 kB/s uplink cannot all arrive in under 2 s, so the
    session's Metadata (after CloseStream, after all audio) comes no sooner."""
    emulator.faults.upload_bytes_per_second = 32_000
    url = emulator.run_url("@cf/deepgram/nova-3") + "?encoding=linear16&sample_rate=16000"
    audio = bytes(16000 * 2 * 2)  # 2 s of silence: 64 kB
    async with http.ws_connect(url) as ws:
        started = time.monotonic()
        for offset in range(0, len(audio), 3200):
            await ws.send_bytes(audio[offset : offset + 3200])
        await ws.send_str(json.dumps({"type": "CloseStream"}))
        kinds = []
        while (msg := await ws.receive(timeout=30)).type is aiohttp.WSMsgType.TEXT:
            kinds.append(json.loads(msg.data)["type"])
        elapsed = time.monotonic() - started
    assert kinds[-1] == "Metadata"
    assert elapsed >= len(audio) / 32_000 * 0.9


async def test_websocket_is_dropped_after_n_messages(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.ws_drop_after_messages = 2
    url = emulator.run_url("@cf/deepgram/flux") + "?encoding=linear16&sample_rate=16000"
    async with http.ws_connect(url) as ws:
        received = []
        await ws.send_bytes(bytes(16000 * 2))  # 1 s of silence: several TurnInfo Updates due
        while True:
            msg = await ws.receive(timeout=30)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            received.append(json.loads(msg.data))
        assert [m["type"] for m in received] == ["Connected", "TurnInfo"]
        # Abrupt: no close frame from the server.
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        assert ws.close_code != 1000
    emulator.faults.ws_drop_after_messages = None
    async with http.ws_connect(emulator.run_url("@cf/deepgram/aura-1")) as ws:
        assert (await ws.receive_json())["type"] == "Metadata"


async def test_control_api_requires_the_token_and_valid_settings(emulator: Emulator) -> None:
    url = f"{emulator.url}/__emulator__/faults"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"latency_ms": 5}) as resp:
            assert resp.status == 401
        headers = {"Authorization": f"Bearer {emulator.api_token}"}
        for bad in ({"latency_ms": -1}, {"fail_next": 1, "status": 200}, {"nonsense": 1},
                    {"status": 429}, [1, 2]):  # fmt: skip
            async with session.post(url, json=bad, headers=headers) as resp:
                assert resp.status == 400, bad
        async with session.post(
            url,
            json={"fail_next": 3, "status": 429, "code": 3040, "latency_ms": 10},
            headers=headers,
        ) as resp:
            assert resp.status == 200
            assert (await resp.json())["result"]["pending_failures"] == 3
        assert emulator.faults.pending_failures == 3
        assert emulator.faults.latency_ms == 10
        async with session.delete(url, headers=headers) as resp:
            assert (await resp.json())["result"]["pending_failures"] == 0
        assert emulator.faults.latency_ms == 0


async def test_emulator_process_faults_over_http(emulator_process: EmulatorProcess) -> None:
    proc = emulator_process
    assert proc.base_url == f"http://127.0.0.1:{proc.port}/client/v4"
    headers = {"Authorization": f"Bearer {proc.api_token}"}
    settings = await proc.set_faults(fail_next=1, status=500, code=3001, message="boom")
    assert settings["pending_failures"] == 1
    async with aiohttp.ClientSession(headers=headers) as http:
        status, body = await melotts(http, proc)
        assert (status, body["errors"]) == (500, [{"code": 3001, "message": "boom"}])
        await proc.set_faults(model_latency_ms=800)
        started = time.monotonic()
        status, _ = await melotts(http, proc)
        assert status == 200
        assert time.monotonic() - started >= 0.8
        assert (await proc.reset_faults())["model_latency_ms"] == 0
        audio = (SPEECH / "living_room_light_en.wav").read_bytes()
        async with http.post(proc.run_url("@cf/openai/whisper"), data=audio) as resp:
            text = (await resp.json())["result"]["text"]
        assert "living room light" in text.lower()
    with pytest.raises(RuntimeError, match="refused"):
        await proc.set_faults(latency_ms="slow")


async def test_cli_prints_credentials_and_writes_the_info_file(tmp_path: Path) -> None:
    info_file = tmp_path / "info.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wyoming_server.emulator", "--port", "0",
        "--info-file", str(info_file),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines = [(await asyncio.wait_for(process.stdout.readline(), 60)).decode() for _ in range(3)]
        info = json.loads(info_file.read_text())
        assert info["base_url"] in lines[0]
        assert info["api_token"] == DEFAULT_API_TOKEN
        assert DEFAULT_API_TOKEN in lines[2]
        assert info["account_id"] in lines[1]
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 30) == 0


def test_cli_refuses_a_non_loopback_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_server.emulator", "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "loopback" in result.stderr


async def test_emulator_process_never_outlives_its_parent() -> None:
    script = (
        "import asyncio, os\n"
        "from wyoming_server.emulator import EmulatorProcess\n"
        "async def main():\n"
        "    proc = EmulatorProcess()\n"
        "    await proc.start()\n"
        "    print(proc.pid, flush=True)\n"
        "    os._exit(0)  # no cleanup: the child must notice on its own\n"
        "asyncio.run(main())\n"
    )
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(parent.communicate(), 60)
    child = int(out.decode().strip())
    for _ in range(300):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        await asyncio.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the emulator subprocess outlived its parent")
