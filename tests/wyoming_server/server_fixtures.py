"""Server fixtures for the Wyoming server tests.

Load with ``pytest_plugins = ["tests.wyoming_server.server_fixtures"]`` in a test module (the
emulator fixtures they build on live in conftest.py, owned by the emulator).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.wyoming_server.server_harness import ServerProcess, emulator_args, emulator_env
from wyoming_server.emulator import EmulatorProcess


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _server_session(
    _emulator_process_session: EmulatorProcess,
) -> AsyncIterator[ServerProcess]:
    proc = _emulator_process_session
    # Shared by every test of the session: a breaker opened by one test's injected faults
    # would fail the next tests at once (service-unavailable). The breaker has its own tests
    # (test_server_breaker.py, test_server_failover.py) on servers of their own.
    args = emulator_args(proc, "--breaker-failures", "1000000")
    async with ServerProcess(args, emulator_env(proc)) as server:
        yield server


@pytest_asyncio.fixture
async def server(
    _server_session: ServerProcess, emulator_process: EmulatorProcess
) -> AsyncIterator[ServerProcess]:
    """The session's server (default flags) on the session's emulator subprocess; the
    emulator's faults are reset around each test (``emulator_process.set_faults``)."""
    yield _server_session
