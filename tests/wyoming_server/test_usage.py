"""Usage metering: neurons from ``cf-ai-neurons`` (client → emulator), estimates for
WebSocket sessions, UTC day roll-over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from wyoming_server.emulator import Emulator
from wyoming_server.workers_ai import WorkersAIClient, catalog
from wyoming_server.workers_ai.usage import (
    DayUsage,
    Transport,
    UsageMeter,
    UsageRecord,
    estimate_neurons,
    usd_beyond_free,
)

SECOND_OF_SILENCE = bytes(32000)


def test_estimates_follow_the_price_list() -> None:
    assert estimate_neurons(catalog.NOVA_3, Transport.REST, audio_seconds=60) == pytest.approx(
        472.73
    )
    assert estimate_neurons(catalog.NOVA_3, Transport.WEBSOCKET, audio_seconds=30) == pytest.approx(
        418.18
    )
    assert estimate_neurons(catalog.AURA_2_EN, Transport.WEBSOCKET, characters=100) == (
        pytest.approx(272.727)
    )
    assert estimate_neurons(catalog.FLUX, Transport.REST, audio_seconds=60) is None
    assert estimate_neurons(catalog.NOVA_3, Transport.REST) is None
    assert usd_beyond_free(9_000) == 0
    assert usd_beyond_free(11_000) == pytest.approx(0.011)


def test_a_new_utc_day_starts_at_midnight() -> None:
    now = [datetime(2026, 11, 29, 23, 59, tzinfo=UTC)]
    meter = UsageMeter(clock=lambda: now[0])
    finished: list[DayUsage] = []
    records: list[UsageRecord] = []
    meter.add_day_listener(finished.append)
    meter.add_listener(records.append)
    meter.record(catalog.NOVA_3, Transport.REST, neurons=9_000)
    meter.record(catalog.AURA_2_EN, Transport.REST, characters=1000)
    assert meter.today().neurons == pytest.approx(11_727.27)
    assert meter.today().usd_beyond_free == pytest.approx(1727.27 * 0.011 / 1000)
    assert meter.today().estimated
    assert not finished
    now[0] += timedelta(minutes=2)
    meter.record(catalog.FLUX, Transport.WEBSOCKET, audio_seconds=60)
    assert [day.day.isoformat() for day in finished] == ["2026-11-29"]
    assert finished[0].neurons == pytest.approx(11_727.27)
    assert "117.3% of the daily free allocation" in finished[0].summary()
    today = meter.today()
    assert today.day.isoformat() == "2026-11-30"
    assert today.neurons == 700
    assert len(records) == 3


@pytest.fixture
async def metered(emulator: Emulator) -> AsyncIterator[tuple[WorkersAIClient, UsageMeter]]:
    async with aiohttp.ClientSession() as session:
        client = WorkersAIClient(
            session, emulator.account_id, emulator.api_token, api_base_url=emulator.base_url
        )
        client.usage = UsageMeter()
        yield client, client.usage


async def test_rest_calls_are_counted_from_cf_ai_neurons(
    metered: tuple[WorkersAIClient, UsageMeter],
) -> None:
    client, meter = metered
    records: list[UsageRecord] = []
    meter.add_listener(records.append)
    await client.transcribe_pcm(catalog.NOVA_3, SECOND_OF_SILENCE * 2, 16000, language="en")
    await client.synthesize(catalog.AURA_2_EN, "Hello there.")
    assert [(r.model_id, r.transport, r.estimated) for r in records] == [
        (catalog.NOVA_3, Transport.REST, False),
        (catalog.AURA_2_EN, Transport.REST, False),
    ]
    assert records[0].neurons == pytest.approx(472.73 * 2 / 60, rel=1e-3)
    assert records[0].audio_seconds == pytest.approx(2.0)
    assert records[1].neurons == pytest.approx(2727.27 * 12 / 1000, rel=1e-3)
    assert records[1].characters == 12
    totals = meter.today().totals
    assert totals[(catalog.NOVA_3, Transport.REST)].requests == 1
    assert totals[(catalog.NOVA_3, Transport.REST)].estimated_neurons == 0


async def test_websocket_sessions_are_estimated(
    metered: tuple[WorkersAIClient, UsageMeter],
) -> None:
    client, meter = metered
    async with client.listen(catalog.NOVA_3, sample_rate=16000, language="en") as session:
        await session.send_audio(SECOND_OF_SILENCE * 3)
        await session.finish()
    async with client.speak(catalog.AURA_2_EN) as speak:
        async for _ in speak.synthesize("Good night."):
            pass
    totals = meter.today().totals
    nova = totals[(catalog.NOVA_3, Transport.WEBSOCKET)]
    assert nova.audio_seconds == pytest.approx(3.0)
    assert nova.neurons == nova.estimated_neurons == pytest.approx(836.36 * 3 / 60)
    aura = totals[(catalog.AURA_2_EN, Transport.WEBSOCKET)]
    assert aura.characters == len("Good night.")
    assert aura.estimated_neurons == pytest.approx(2727.27 * 11 / 1000)
