"""Run the Wyoming server (``wyoming-workers-ai`` without a subcommand).

Lifecycle: parse the command line, configure logging (stderr only: stdout may carry the Wyoming
stream with ``stdio://``), build ``info`` once, open the shared Workers AI client (or the
embedded emulator), serve until SIGTERM/SIGINT, then close everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
import sys
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

from wyoming.server import AsyncServer, AsyncStdioServer

from .. import __version__
from ..backend import BackendError, open_client
from ..credentials import CredentialsError, load_credentials, load_gateway_token
from .breakers import Failover
from .cli import parse_args
from .discovery import DiscoveryError, ZeroconfAnnouncement, announced_address
from .extras import ExtrasError, server_extras
from .handler import WorkersAIEventHandler
from .info import build_info
from .limits import BackendSlots
from .serve import ConnectionServer

_LOGGER = logging.getLogger("wyoming_server")


def _warn_if_token_file_readable(path: Path | None) -> None:
    """Warn when the API token file can be read by users other than its owner."""
    if path is None:
        return
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # load_credentials reports unreadable files
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        _LOGGER.warning(
            "The API token file %s is readable by other users (mode %o): chmod 600 it",
            path,
            stat.S_IMODE(mode),
        )


async def _serve_stdio(
    server: AsyncStdioServer, factory: partial[WorkersAIEventHandler], stop: asyncio.Event
) -> None:
    _LOGGER.info("Ready (stdio)")
    run = asyncio.create_task(server.run(factory))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({run, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for task in (run, stopping):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def main() -> int:
    """Run the server until a stop signal; returns the process exit code."""
    args, settings = parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format=args.log_format,
        stream=sys.stderr,
    )
    _LOGGER.debug("wyoming-workers-ai %s, settings %s", __version__, settings)
    try:
        credentials = load_credentials(
            os.environ, account_id=args.account_id, api_token_file=args.api_token_file
        )
        gateway_token = load_gateway_token(os.environ, token_file=args.gateway_token_file)
    except CredentialsError as err:
        _LOGGER.error("%s", err)  # noqa: TRY400 - a configuration error, not a crash
        return 2
    _warn_if_token_file_readable(args.api_token_file)
    info_event = build_info(settings).event()
    parsed = urlparse(args.uri)
    if args.zeroconf and parsed.scheme != "tcp":
        _LOGGER.error("--zeroconf needs a tcp:// URI")
        return 2
    try:
        stdio = AsyncServer.from_uri(args.uri)
    except ValueError as err:
        _LOGGER.error("%s", err)  # noqa: TRY400 - a configuration error, not a crash
        return 2

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    try:
        async with contextlib.AsyncExitStack() as stack:
            client = await stack.enter_async_context(
                open_client(
                    credentials,
                    api_base_url=args.api_base_url,
                    request_timeout=args.request_timeout,
                    deadline=args.request_deadline,
                    connect_timeout=args.connect_timeout,
                    gateway_token=gateway_token,
                )
            )
            extras = await stack.enter_async_context(
                server_extras(args, client, os.environ, settings.keyterms)
            )
            # One breaker per task, with or without a fallback (docs/failover.md).
            failover = Failover(settings.failover, client, extras.metrics)
            for task in failover.tasks():
                _LOGGER.info(
                    "Failover for %s: %s (breaker: %s)",
                    task.task,
                    ", ".join(getattr(e, "name", "?") for e in task.engines)
                    or "none (fails at once while the breaker is open)",
                    task.breaker.snapshot(),
                )
            factory = partial(
                WorkersAIEventHandler,
                info_event=info_event,
                client=client,
                settings=settings,
                slots=BackendSlots(settings.limits),
                vocabulary=extras.vocabulary,
                metrics=extras.metrics,
                failover=failover,
            )
            if isinstance(stdio, AsyncStdioServer):
                await _serve_stdio(stdio, factory, stop)
                return 0
            server = ConnectionServer(factory, settings.limits)
            async with contextlib.AsyncExitStack() as announcement:
                if parsed.scheme == "tcp":
                    await server.start_tcp(str(parsed.hostname), int(parsed.port or 0))
                    uri = f"tcp://{parsed.hostname}:{server.port}"
                    if args.zeroconf:  # withdrawn (mDNS goodbye) before the server stops
                        await announcement.enter_async_context(
                            ZeroconfAnnouncement(
                                args.zeroconf,
                                announced_address(parsed.hostname, args.zeroconf_host),
                                int(server.port or 0),
                            )
                        )
                else:
                    await server.start_unix(parsed.path)
                    uri = args.uri
                _LOGGER.info("Ready: listening on %s", uri)
                await stop.wait()
                _LOGGER.info("Stopping")
            await server.shutdown()
    except (BackendError, DiscoveryError, ExtrasError) as err:
        _LOGGER.error("%s", err)  # noqa: TRY400 - a configuration error, not a crash
        return 2
    except OSError as err:
        _LOGGER.error("Cannot serve %s: %s", args.uri, err)  # noqa: TRY400
        return 1
    return 0
