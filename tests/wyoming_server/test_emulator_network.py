"""The emulator's ``rtt_ms`` fault: a round trip per request and per message, two more per
new connection (lower bounds only: the machine may be slow, never fast)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from wyoming_server.emulator import Emulator

RTT = 0.3


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {emulator.api_token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield session


async def _timed_search(http: aiohttp.ClientSession, emulator: Emulator) -> float:
    search = f"{emulator.base_url}/accounts/{emulator.account_id}/ai/models/search"
    started = time.monotonic()
    async with http.get(search) as resp:
        assert resp.status == 200
        await resp.read()
    return time.monotonic() - started


async def test_requests_cost_a_round_trip_and_new_connections_two_more(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.update({"rtt_ms": RTT * 1000})
    first = await _timed_search(http, emulator)
    reused = await _timed_search(http, emulator)  # aiohttp keeps the connection alive
    assert first >= 3 * RTT
    assert RTT <= reused < 2 * RTT
    async with aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {emulator.api_token}"}
    ) as other:
        assert await _timed_search(other, emulator) >= 3 * RTT  # its own new connection


async def test_websocket_messages_arrive_a_round_trip_later(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    emulator.faults.rtt_ms = RTT * 1000
    started = time.monotonic()
    async with http.ws_connect(emulator.run_url("@cf/deepgram/aura-1")) as ws:
        opened = time.monotonic()
        assert opened - started >= 3 * RTT  # handshake on a new connection
        assert (await ws.receive_json(timeout=10))["type"] == "Metadata"
        assert time.monotonic() - opened >= RTT
        await ws.send_json({"type": "Speak", "text": "Hi."})
        await ws.send_json({"type": "Flush"})
        kinds = []
        while (msg := await ws.receive(timeout=30)).type is not aiohttp.WSMsgType.CLOSED:
            if msg.type is aiohttp.WSMsgType.BINARY:
                kinds.append("audio")
            elif msg.type is aiohttp.WSMsgType.TEXT:
                kinds.append(msg.json()["type"])
                if kinds[-1] == "Flushed":
                    await ws.send_json({"type": "Close"})
            else:
                break
        # Delayed, not reordered: audio, then Flushed, then the close.
        assert kinds[0] == "audio" and kinds[-1] == "Flushed"
        assert ws.close_code == 1000
    emulator.faults.reset()
    assert emulator.faults.rtt_ms == 0
