"""The process-wide Workers AI client: one aiohttp session, real Cloudflare or the emulator.

Without credentials the server starts the embedded Workers AI emulator (extra ``emulator``) on a
loopback port and talks to it, so it works out of the box on a machine without a Cloudflare
account.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp

from .credentials import Credentials
from .workers_ai import WorkersAIClient
from .workers_ai.client import DEFAULT_CONNECT_TIMEOUT

_LOGGER = logging.getLogger(__name__)


KEEPALIVE_S = 60.0
"""Seconds an idle pooled HTTP connection to Workers AI is kept open."""


class BackendError(Exception):
    """The Workers AI backend cannot be set up (e.g. no credentials and no emulator)."""


@asynccontextmanager
async def embedded_emulator() -> AsyncIterator[tuple[str, Credentials]]:
    """Start the embedded emulator on a free loopback port; yield its API root and credentials.

    Raises:
        BackendError: the emulator extra is not installed.
    """
    try:
        from .emulator import Emulator  # noqa: PLC0415 - optional extra, heavy models
    except ImportError as err:
        raise BackendError(
            "No Cloudflare credentials (CLOUDFLARE_ACCOUNT_ID / CLOUDFLARE_API_TOKEN) and the "
            "embedded emulator is not installed (pip install 'wyoming-workers-ai[emulator]')"
        ) from err
    emulator = Emulator(port=0)
    await emulator.start()
    try:
        _LOGGER.info(
            "No Cloudflare credentials: using the embedded Workers AI emulator at %s",
            emulator.url,
        )
        yield emulator.base_url, Credentials(emulator.account_id, emulator.api_token)
    finally:
        await emulator.stop()


@asynccontextmanager
async def open_client(
    credentials: Credentials | None,
    *,
    api_base_url: str,
    request_timeout: float,
    deadline: float,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    gateway_token: str | None = None,
) -> AsyncIterator[WorkersAIClient]:
    """Yield the shared client; closes its session (and the emulator, if started) on exit.

    Args:
        credentials: Cloudflare credentials, or ``None`` for the embedded emulator.
        api_base_url: the v4 API root used with real credentials.
        request_timeout: seconds per HTTP attempt.
        deadline: seconds per call, retries included.
        connect_timeout: seconds to connect (HTTP) or open a WebSocket.
        gateway_token: AI Gateway token (``cf-aig-authorization``), if the gateway needs one.

    Raises:
        BackendError: no credentials and the emulator extra is not installed.
    """
    async with AsyncExitStack() as stack:
        if credentials is None:
            emulator_url, creds = await stack.enter_async_context(embedded_emulator())
            api_base_url = emulator_url
        else:
            creds = credentials
        # Connections stay pooled for a minute (aiohttp: 15 s), longer than an utterance: the
        # upload at audio-stop reuses the one opened at transcribe (WorkersAIClient.preconnect).
        session = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S))
        )
        yield WorkersAIClient(
            session,
            creds.account_id,
            creds.api_token,
            api_base_url=api_base_url,
            request_timeout=request_timeout,
            deadline=deadline,
            connect_timeout=connect_timeout,
            gateway_token=gateway_token,
        )
