"""Shared fixtures for the Wyoming server tests.

Emulator fixtures (owned by the emulator): ``emulator`` is an in-process Workers AI emulator per
test (faults reset; models are loaded once per process and shared), ``emulator_process`` one
emulator subprocess for the whole session (faults reset before each test that uses it), driven
over its HTTP control API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from wyoming_server.emulator import Emulator, EmulatorProcess

SPEECH_DIR = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="session")
def speech_dir() -> Path:
    """Folder of the real speech recordings (``tests/data``, with their licence and transcripts)."""
    return SPEECH_DIR


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """An in-process emulator on a free loopback port, faults off."""
    async with Emulator() as emu:
        emu.faults.reset()
        yield emu


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _emulator_process_session() -> AsyncIterator[EmulatorProcess]:
    async with EmulatorProcess(preload=True) as proc:
        yield proc


@pytest_asyncio.fixture
async def emulator_process(
    _emulator_process_session: EmulatorProcess,
) -> AsyncIterator[EmulatorProcess]:
    """The session's emulator subprocess (``python -m wyoming_server.emulator``), faults reset
    before and after the test. Usable from any test's event loop."""
    await _emulator_process_session.reset_faults()
    yield _emulator_process_session
    await _emulator_process_session.reset_faults()
