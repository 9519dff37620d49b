"""The Workers AI fault matrix through Home Assistant's speech entities.

Every fault kind of :data:`benchmarks.fault_matrix.FAULTS` (the Wyoming server's matrix) is
injected in the emulator (load mode, no inference) for one request through Home Assistant:
speech-to-text through the ``stt`` entity (``async_process_audio_stream``, what the Assist
pipeline calls), text-to-speech through the ``tts`` media source (what a media player fetches
after ``tts.speak``), over REST (Whisper, MeloTTS) and the WebSocket (nova-3, aura-2). Each cell
must give the user what the fault means (a transcript or audio after a recovered fault; else a
``SpeechResult`` ERROR or a Home Assistant error with the right translation key, plus
re-authentication for a rejected token and a repair issue for a spent allocation), within the
10 s voice budget, without retrying what retrying cannot fix, and the next request must work.

The normal run takes :data:`benchmarks.fault_matrix_ha.CI_FAULTS`; ``FAULT_MATRIX_HA_FULL=1``
(or ``python -m benchmarks.fault_matrix_ha``, which writes the report) takes every fault.
"""

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from yarl import URL

from homeassistant.components import stt, tts
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import CONF_LANGUAGE, CONF_MODEL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir

from benchmarks.fault_matrix import Fault
from benchmarks.fault_matrix_ha import (
    REPORT_ENV,
    HACell,
    cells_of,
    problems,
    selected_faults,
)
from custom_components.workers_ai_speech.const import (
    CONF_API_BASE_URL,
    CONF_VOICE,
    DOMAIN,
    ISSUE_QUOTA_EXCEEDED,
)
from tests.components.stt_helpers import process_speech
from tests.components.tts_helpers import wav_duration
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import catalog

# (task, transport) → (subentry title, model, entity ID)
SERVICES = {
    ("stt", "rest"): ("Whisper", catalog.WHISPER, "stt.whisper_speech_to_text"),
    ("stt", "websocket"): ("Nova", catalog.NOVA_3, "stt.nova_speech_to_text"),
    ("tts", "rest"): ("Melo", catalog.MELOTTS, "tts.melo_text_to_speech"),
    ("tts", "websocket"): ("Aura", catalog.AURA_2_EN, "tts.aura_text_to_speech"),
}
MESSAGE = "Hello there. How are you?"
WAV = {tts.ATTR_PREFERRED_FORMAT: "wav"}  # no ffmpeg conversion (none is installed here)
HANG_GUARD = 60.0
"""Seconds after which a request still running counts as a hang (the budget is 10 s)."""

KNOWN_BUGS: dict[tuple[str, str, str], str] = {}
"""Cells that show a bug still open, with the reason (strict: the fix makes them fail)."""


def _cell_id(fault: Fault, task: str, transport: str) -> str:
    return f"{fault.name.split(',')[0].replace(' ', '_')}-{task}-{transport}"


CELLS = [
    pytest.param(
        fault,
        task,
        transport,
        id=_cell_id(fault, task, transport),
        marks=[pytest.mark.xfail(reason=reason, strict=True)]
        if (reason := KNOWN_BUGS.get((fault.name, task, transport)))
        else [],
    )
    for fault, task, transport in cells_of(selected_faults())
]


class Gate:
    """A TCP forwarder to the emulator that can be closed: Workers AI refusing connections.

    While closed nothing listens on its port (connection refused) and the connections it
    forwarded are cut (so no pooled keep-alive connection gets through).
    """

    def __init__(self, upstream: str) -> None:
        url = URL(upstream)
        self._upstream = (url.host or "127.0.0.1", url.port or 80)
        self._path = url.path
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        """The ``/client/v4`` root behind the gate."""
        return f"http://127.0.0.1:{self.port}{self._path}"

    async def open(self) -> None:
        """Listen (on the same port as before, once it has one)."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and cut every forwarded connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        pipes = {
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        }
        self._pipes |= pipes
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._pipes -= pipes
            for w in (writer, up_writer):
                w.close()
                self._writers.discard(w)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    """The emulator in load mode (answers at once, without inference), for this module."""
    process = EmulatorProcess(load_mode=True)
    asyncio.run(process.start())
    try:
        yield process
    finally:
        asyncio.run(process.stop())


@pytest.fixture
async def gate(emulator: EmulatorProcess) -> AsyncIterator[Gate]:
    """The gate in front of the emulator, open."""
    gate = Gate(emulator.base_url)
    await gate.open()
    yield gate
    await gate.close()


@pytest.fixture
def entry_data(entry_data: dict[str, str], gate: Gate) -> dict[str, str]:
    """The emulator's credentials, with Workers AI reached through the gate."""
    return {**entry_data, CONF_API_BASE_URL: gate.base_url}


@pytest.fixture
def subentries_data() -> list[dict[str, Any]]:
    """One service per (task, transport) of the matrix."""
    subentries = []
    for (task, _), (title, model, _) in SERVICES.items():
        data = {CONF_MODEL: model, CONF_LANGUAGE: "en"}
        if model == catalog.AURA_2_EN:
            data[CONF_VOICE] = "luna"
        subentries.append({"subentry_type": task, "title": title, "data": data, "unique_id": None})
    return subentries


async def _request(
    hass: HomeAssistant, task: str, transport: str, speech: bytes
) -> tuple[bool, str, str | None]:
    """One request through Home Assistant: (succeeded, what the user gets, error key)."""
    entity_id = SERVICES[(task, transport)][2]
    if task == "stt":
        result = await process_speech(hass, entity_id, speech)
        if result.result is stt.SpeechResultState.SUCCESS:
            return bool(result.text), f"transcript {result.text!r}", None
        return False, "SpeechResult ERROR", None
    media_id = tts.generate_media_source_id(
        hass, MESSAGE, engine=entity_id, options=WAV, cache=False
    )
    try:
        _, data = await tts.async_get_media_source_audio(hass, media_id)
    except HomeAssistantError as err:
        key = err.translation_key
        return False, f"HomeAssistantError ({key or err})", key
    seconds = wav_duration(data)
    return seconds > 0, f"{seconds:.1f} s of audio", None


def _reauth_started(hass: HomeAssistant, entry: MockConfigEntry) -> bool:
    return any(
        flow["context"].get("source") == SOURCE_REAUTH
        and flow["context"].get("entry_id") == entry.entry_id
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    )


def _quota_issue(hass: HomeAssistant) -> bool:
    return ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_QUOTA_EXCEEDED) is not None


async def _model_calls(emulator: EmulatorProcess) -> int:
    counts = await emulator.request_counts(reset=True)
    return sum(sum(by_model.values()) for by_model in counts.values())


async def run_cell(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    emulator: EmulatorProcess,
    gate: Gate,
    speech: bytes,
    fault: Fault,
    task: str,
    transport: str,
) -> HACell:
    """Inject ``fault``, make one request, then one without the fault; record both."""
    cell = HACell(fault.name, fault.source, task, transport, SERVICES[(task, transport)][1])
    await emulator.reset_faults()
    await emulator.request_counts(reset=True)
    if fault.refused:
        await gate.close()
    else:
        await emulator.set_faults(**fault.settings)
    started = time.monotonic()
    try:
        async with asyncio.timeout(HANG_GUARD):
            cell.success, cell.user_gets, cell.error_key = await _request(
                hass, task, transport, speech
            )
    except TimeoutError:
        cell.user_gets = "nothing (hangs)"
    cell.seconds = round(time.monotonic() - started, 2)
    await hass.async_block_till_done()
    await emulator.reset_faults()
    calls = await _model_calls(emulator)
    cell.backend_requests = None if fault.refused else calls
    if fault.refused:
        await gate.open()
    cell.repair_issue = _quota_issue(hass)
    cell.reauth = _reauth_started(hass, entry)
    async with asyncio.timeout(HANG_GUARD):
        cell.next_request_ok, _, _ = await _request(hass, task, transport, speech)
    if cell.repair_issue:
        cell.repair_issue_cleared = not _quota_issue(hass)
    cell.verdict = "; ".join(problems(fault, cell)) or "ok"
    return cell


def _record(cell: HACell) -> None:
    """Append ``cell`` to the benchmark's report file (when the benchmark runs the tests)."""
    if path := os.environ.get(REPORT_ENV):
        with open(path, "a", encoding="utf-8") as report:
            report.write(json.dumps(asdict(cell), ensure_ascii=False) + "\n")


@pytest.mark.parametrize(("fault", "task", "transport"), CELLS)
async def test_fault_through_home_assistant(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    emulator: EmulatorProcess,
    gate: Gate,
    speech_pcm: bytes,
    fault: Fault,
    task: str,
    transport: str,
) -> None:
    """The user gets what the fault means, in time, without needless retries; the next
    request works (see :func:`benchmarks.fault_matrix_ha.problems`)."""
    cell = await run_cell(hass, setup_entry, emulator, gate, speech_pcm, fault, task, transport)
    _record(cell)
    assert cell.verdict == "ok", cell
