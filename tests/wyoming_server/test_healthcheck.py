"""``wyoming-workers-ai-healthcheck``: the container's HEALTHCHECK sends describe, expects info."""

from __future__ import annotations

import asyncio
import socket
import sys

from tests.wyoming_server.server_harness import ServerProcess

CREDENTIALS = {"CLOUDFLARE_ACCOUNT_ID": "healthcheck-test", "CLOUDFLARE_API_TOKEN": "unused"}
BACKEND = ["--api-base-url", "http://127.0.0.1:9/unused"]


async def _healthcheck(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wyoming_server.server.healthcheck", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, err.decode()


async def test_healthy_server_passes() -> None:
    async with ServerProcess(BACKEND, env=CREDENTIALS) as server:
        code, err = await _healthcheck("--uri", f"tcp://127.0.0.1:{server.port}")
    assert (code, err) == (0, "")


async def test_nothing_listening_fails() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        code, err = await _healthcheck("--uri", f"tcp://127.0.0.1:{port}")
    assert code == 1
    assert "unhealthy: cannot connect" in err


async def test_a_server_that_never_answers_fails() -> None:
    """A port that accepts but never says info (a hung server) fails after --timeout."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        code, err = await _healthcheck("--uri", f"tcp://127.0.0.1:{port}", "--timeout", "1")
    assert code == 1
    assert "unhealthy: no info" in err
