"""``--zeroconf``: a real zeroconf browser finds ``_wyoming._tcp.local.`` and can use it.

The server runs as a subprocess (``python -m wyoming_server --zeroconf NAME``); the test browses
with python-zeroconf (what Home Assistant uses) and connects to the address and port it found.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from zeroconf import ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from tests.wyoming_server.server_harness import ServerProcess
from wyoming_server.server.discovery import SERVICE_TYPE

# The server never calls Workers AI in these tests: describe is answered from its settings.
CREDENTIALS = {"CLOUDFLARE_ACCOUNT_ID": "zeroconf-test", "CLOUDFLARE_API_TOKEN": "unused"}
BACKEND = ["--api-base-url", "http://127.0.0.1:9/unused"]
TIMEOUT = 20.0


class Browser:
    """Records the ``_wyoming._tcp`` services seen and removed."""

    def __init__(self, zc: AsyncZeroconf) -> None:
        self.zc = zc
        self.added: dict[str, asyncio.Event] = {}
        self.removed: dict[str, asyncio.Event] = {}
        self.browser = AsyncServiceBrowser(zc.zeroconf, SERVICE_TYPE, handlers=[self._on_change])

    def _on_change(
        self,
        zeroconf: object,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        seen = self.added if state_change is not ServiceStateChange.Removed else self.removed
        seen.setdefault(name, asyncio.Event()).set()

    async def wait(self, name: str, *, removed: bool = False) -> None:
        events = self.removed if removed else self.added
        await asyncio.wait_for(events.setdefault(name, asyncio.Event()).wait(), TIMEOUT)

    async def resolve(self, name: str) -> AsyncServiceInfo:
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        assert await info.async_request(self.zc.zeroconf, int(TIMEOUT * 1000))
        return info


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    zc = AsyncZeroconf()
    browser = Browser(zc)
    try:
        yield browser
    finally:
        await browser.browser.async_cancel()
        await zc.async_close()


async def _describe(host: str, port: int) -> Info:
    async with AsyncTcpClient(host, port) as client:
        await client.write_event(Describe().event())
        while (event := await asyncio.wait_for(client.read_event(), TIMEOUT)) is not None:
            if Info.is_type(event.type):
                return Info.from_event(event)
    raise AssertionError("no info")


async def test_zeroconf_announces_the_loopback_server(browser: Browser) -> None:
    """Browsing finds the service; its address and port reach the server; stop withdraws it."""
    name = f"workers-ai-test-{uuid.uuid4().hex[:8]}"
    full_name = f"{name}.{SERVICE_TYPE}"
    server = ServerProcess(["--zeroconf", name, *BACKEND], env=CREDENTIALS)
    async with server:
        await browser.wait(full_name)
        info = await browser.resolve(full_name)
        assert info.port == server.port
        assert info.parsed_addresses() == ["127.0.0.1"]
        described = await _describe(info.parsed_addresses()[0], info.port)
        assert described.asr and described.tts
    # SIGTERM: the server says goodbye, so Home Assistant drops the entry.
    await browser.wait(full_name, removed=True)


async def test_zeroconf_announces_a_real_address_for_a_wildcard_bind(browser: Browser) -> None:
    """Bound to 0.0.0.0, the server announces an interface address, never 0.0.0.0."""
    name = f"workers-ai-test-{uuid.uuid4().hex[:8]}"
    full_name = f"{name}.{SERVICE_TYPE}"
    # argparse keeps the last --uri: this one replaces the harness's loopback default.
    server = ServerProcess(
        ["--zeroconf", name, "--uri", "tcp://0.0.0.0:0", *BACKEND], env=CREDENTIALS
    )
    async with server:
        await browser.wait(full_name)
        info = await browser.resolve(full_name)
        (address,) = info.parsed_addresses()
        assert address not in {"0.0.0.0", "127.0.0.1"}
        assert info.port == server.port
        assert (await _describe(address, info.port)).tts


async def test_zeroconf_needs_a_tcp_server() -> None:
    """``--zeroconf`` with a unix socket is a configuration error, not a crash."""
    uri = f"unix:///tmp/workers-ai-zeroconf-{uuid.uuid4().hex[:8]}.sock"
    server = ServerProcess(["--zeroconf", "--uri", uri, *BACKEND], env=CREDENTIALS)
    with pytest.raises(RuntimeError):
        await server.start()
    assert await server.wait_exit() == 2
    assert "--zeroconf needs a tcp:// URI" in server.stderr
