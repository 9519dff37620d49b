"""The server's daily usage line: once per UTC day (also without traffic) and at shutdown, with
neurons and cost per model and transport.

The server's optional features (``server_extras``, as ``wyoming-workers-ai`` starts them) run
with a clock the test moves past 00:00 UTC instead of waiting a day; the usage comes from real
calls to the emulator with real speech (nova-3 REST, counted from ``cf-ai-neurons``, and nova-3
over the WebSocket, estimated).
"""

from __future__ import annotations

import asyncio
import logging
import re
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from wyoming_server.emulator import Emulator
from wyoming_server.server.cli import build_parser
from wyoming_server.server.extras import server_extras
from wyoming_server.workers_ai import WorkersAIClient, catalog

LINE = re.compile(r"Workers AI usage (\d{4}-\d\d-\d\d) \(UTC\): ([\d.]+) neurons")


def usage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if LINE.search(r.getMessage())]


async def wait_for_lines(caplog: pytest.LogCaptureFixture, count: int) -> list[str]:
    """Poll for ``count`` usage lines (a hang guard of 10 s, not a speed check)."""
    for _ in range(200):
        if len(usage_lines(caplog)) >= count:
            break
        await asyncio.sleep(0.05)
    return usage_lines(caplog)


async def test_the_usage_line_is_logged_once_per_utc_day_and_at_shutdown(
    emulator: Emulator, speech_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wyoming_server")
    with wave.open(str(speech_dir / "living_room_light_en.wav"), "rb") as wav:
        pcm = wav.readframes(wav.getnframes())
    now = datetime(2026, 11, 29, 23, 59, 0, tzinfo=UTC)
    args = build_parser().parse_args([])
    async with aiohttp.ClientSession() as session:
        client = WorkersAIClient(
            session, emulator.account_id, emulator.api_token, api_base_url=emulator.base_url
        )
        async with server_extras(
            args, client, {}, (), clock=lambda: now, roll_over_seconds=0.01
        ) as extras:
            await client.transcribe_pcm(catalog.NOVA_3, pcm, 16000, language="en")
            async with client.listen(catalog.NOVA_3, sample_rate=16000, language="en") as stream:
                await stream.send_audio(pcm)
                await stream.finish()
            spent = extras.meter.today().neurons
            assert spent > 0
            await asyncio.sleep(0.1)  # several checks within the same day: no line yet
            assert usage_lines(caplog) == []

            now += timedelta(minutes=2)  # 00:01 UTC: the day is over, no request needed
            [line] = await wait_for_lines(caplog, 1)
            await asyncio.sleep(0.1)  # more checks the same day add nothing
            assert usage_lines(caplog) == [line]
            match = LINE.search(line)
            assert match is not None
            assert match.group(1) == "2026-11-29"
            assert float(match.group(2)) == pytest.approx(spent, abs=0.1)
            assert "nova-3/rest: 1 requests" in line
            assert re.search(r"nova-3/websocket: 1 requests, [\d.]+ neurons \(estimated\)", line)
            assert "% of the daily free allocation, $0.0000 beyond it" in line

            now += timedelta(days=1)  # a day without any request still gets its line
            lines = await wait_for_lines(caplog, 2)
            assert LINE.findall(lines[1]) == [("2026-11-30", "0.0")]
    # Stopping logs today's usage so far.
    lines = usage_lines(caplog)
    assert len(lines) == 3
    assert lines[2].startswith("Stopping; so far today: Workers AI usage 2026-12-01 (UTC)")
