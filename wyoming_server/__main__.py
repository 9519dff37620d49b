"""``python -m wyoming_server`` / ``wyoming-workers-ai``: run the Wyoming server.

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
import sys
from functools import partial

from wyoming.server import AsyncServer, AsyncStdioServer, AsyncTcpServer, AsyncUnixServer

from . import __version__
from .backend import BackendError, open_client
from .cli import parse_args
from .credentials import CredentialsError, load_credentials
from .extras import ExtrasError, server_extras
from .handler import WorkersAIEventHandler
from .info import build_info

_LOGGER = logging.getLogger("wyoming_server")

_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names, not a bind


def _bound_port(server: AsyncTcpServer) -> int:
    """The TCP port actually bound (differs from ``server.port`` when ``:0`` was asked for)."""
    listener = server._server  # wyoming keeps its asyncio server private
    if isinstance(listener, asyncio.Server) and listener.sockets:
        return int(listener.sockets[0].getsockname()[1])
    return server.port


def _listening_uri(server: AsyncServer, uri: str) -> str:
    """The URI actually served (with the real port when ``:0`` was asked for)."""
    if isinstance(server, AsyncTcpServer):
        return f"tcp://{server.host}:{_bound_port(server)}"
    return uri


async def _register_zeroconf(server: AsyncServer, name: str, host: str | None) -> None:
    """Announce ``_wyoming._tcp`` (tcp only), with a real IP instead of a wildcard bind.

    wyoming's ``HomeAssistantZeroconf`` advertises its ``host`` verbatim, so ``0.0.0.0`` must
    become ``None`` (autodetect) (wyoming-protocol-and-servers.md §1.8).
    """
    if not isinstance(server, AsyncTcpServer):
        raise TypeError("--zeroconf needs a tcp:// URI")
    from wyoming.zeroconf import HomeAssistantZeroconf  # noqa: PLC0415 - optional extra

    port = _bound_port(server)
    advertised = host or (None if server.host in _WILDCARD_HOSTS else server.host)
    zeroconf = HomeAssistantZeroconf(name=name, port=port, host=advertised)
    await zeroconf.register_server()
    _LOGGER.info("Zeroconf discovery enabled: %s on port %d", name, port)


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
    except CredentialsError as err:
        _LOGGER.error("%s", err)  # noqa: TRY400 - a configuration error, not a crash
        return 2
    info_event = build_info(settings).event()
    server = AsyncServer.from_uri(args.uri)

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
                )
            )
            extras = await stack.enter_async_context(
                server_extras(args, client, os.environ, settings.keyterms)
            )
            factory = partial(
                WorkersAIEventHandler,
                info_event=info_event,
                client=client,
                settings=settings,
                vocabulary=extras.vocabulary,
                metrics=extras.metrics,
            )
            if isinstance(server, AsyncStdioServer):
                _LOGGER.info("Ready (stdio)")
                run = asyncio.create_task(server.run(factory))
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait({run, stopping}, return_when=asyncio.FIRST_COMPLETED)
                for task in (run, stopping):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            else:
                assert isinstance(server, (AsyncTcpServer, AsyncUnixServer))
                await server.start(factory)
                if args.zeroconf:
                    await _register_zeroconf(server, args.zeroconf, args.zeroconf_host)
                _LOGGER.info("Ready: listening on %s", _listening_uri(server, args.uri))
                await stop.wait()
                _LOGGER.info("Stopping")
                await server.stop()
                # Let each connection's handler close its WebSockets before the session goes.
                handlers = list(server._handlers)
                if handlers:
                    await asyncio.wait(handlers, timeout=5.0)
    except (BackendError, ExtrasError) as err:
        _LOGGER.error("%s", err)  # noqa: TRY400 - a configuration error, not a crash
        return 2
    except OSError as err:
        _LOGGER.error("Cannot serve %s: %s", args.uri, err)  # noqa: TRY400
        return 1
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(asyncio.run(main()))


if __name__ == "__main__":
    run()
