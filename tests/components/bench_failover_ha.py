"""Driven by ``python -m benchmarks.failover_ha`` (not collected by the test run: its name does
not start with ``test_``): the latency a failover adds through Home Assistant's ``/api/stt``.

Times whole ``POST /api/stt/<entity>`` requests with real speech (the body is sent at once, so
the time is from the upload to the answer): the failover entity alone, Workers AI (the emulator
in load mode) healthy, Workers AI failing with a 5xx with the breaker closed (retries, then the
failover entity), and with the breaker open (Workers AI not asked). Writes JSON to the file
named by ``FAILOVER_HA_REPORT``.
"""

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from homeassistant.core import HomeAssistant

from custom_components.workers_ai_speech.failover import CONF_FAILOVER_FAILURES
from tests.components import test_failover as base
from tests.components.test_failover import HEADERS, LOCAL_STT, STT_ID, LocalSTT, LocalTTS
from wyoming_server.emulator import EmulatorProcess

pytestmark = pytest.mark.usefixtures("internal_url")

emulator, gate, entry_data = base.emulator, base.gate, base.entry_data
subentries_data, local = base.subentries_data, base.local

REPORT_ENV = "FAILOVER_HA_REPORT"
REPEATS = int(os.environ.get("FAILOVER_HA_REPEATS", "8"))


@pytest.fixture
def config_entry(
    hass: HomeAssistant, entry_data: dict[str, str], subentries_data: list[dict[str, Any]]
) -> MockConfigEntry:
    """The entry; the breaker opens after FAILOVER_HA_FAILURES failures (1000: never)."""
    entry = MockConfigEntry(
        domain="workers_ai_speech",
        title="Workers AI test",
        unique_id=entry_data["account_id"],
        data=entry_data,
        options={CONF_FAILOVER_FAILURES: int(os.environ.get("FAILOVER_HA_FAILURES", "1000"))},
        subentries_data=subentries_data,  # type: ignore[arg-type]
    )
    entry.add_to_hass(hass)
    return entry


LOCAL_HEADERS = {"X-Speech-Content": HEADERS["X-Speech-Content"].replace("en-US", "en")}
"""The local entity lists ``en`` only (Workers AI's entity maps ``en-US`` to it itself)."""


async def _timed(client: Any, entity_id: str, pcm: bytes) -> tuple[float, dict[str, Any]]:
    headers = LOCAL_HEADERS if entity_id == LOCAL_STT else HEADERS
    started = time.perf_counter()
    response = await client.post(f"/api/stt/{entity_id}", data=pcm, headers=headers)
    response.raise_for_status()
    result: dict[str, Any] = await response.json()
    return (time.perf_counter() - started) * 1000, result


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50_ms": round(ordered[len(ordered) // 2], 2),
        "min_ms": round(ordered[0], 2),
        "max_ms": round(ordered[-1], 2),
    }


async def test_measure(
    hass: HomeAssistant,
    local: tuple[LocalSTT, LocalTTS],
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    emulator: EmulatorProcess,
    speech_pcm: bytes,
) -> None:
    """One row per case; the failures-to-open option picks closed (1000) or open (1)."""
    client = await hass_client()
    rows: dict[str, list[float]] = {"failover entity alone": [], "Workers AI healthy": []}
    await _timed(client, STT_ID, speech_pcm)  # warm-up
    for _ in range(REPEATS):
        rows["failover entity alone"].append((await _timed(client, LOCAL_STT, speech_pcm))[0])
        rows["Workers AI healthy"].append((await _timed(client, STT_ID, speech_pcm))[0])
    await emulator.set_faults(fail_next=100_000, status=500, code=3001, message="Internal")
    name = (
        "5xx, breaker closed" if setup_entry.options[CONF_FAILOVER_FAILURES] > 1 else "breaker open"
    )
    if name == "breaker open":
        await _timed(client, STT_ID, speech_pcm)  # opens it
    rows[name] = []
    for _ in range(REPEATS):
        elapsed, result = await _timed(client, STT_ID, speech_pcm)
        assert result["result"] == "success"
        rows[name].append(elapsed)
    if path := os.environ.get(REPORT_ENV):
        await hass.async_add_executor_job(_write, Path(path), rows)


def _write(report: Path, rows: dict[str, list[float]]) -> None:
    document = json.loads(report.read_text()) if report.exists() else {}
    document.update({key: _summary(values) for key, values in rows.items()})
    report.write_text(json.dumps(document, indent=2) + "\n")
