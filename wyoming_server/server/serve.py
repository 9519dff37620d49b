"""Accept Wyoming connections over TCP or a Unix socket, bounded, and stop gracefully.

Replaces ``wyoming.server.AsyncTcpServer``/``AsyncUnixServer`` (which have neither a connection
limit nor a graceful stop) for this server:

- at most ``max_connections`` connections; one more gets a ``server-busy`` ``error`` and is
  closed;
- the header line limit is the ``StreamReader`` limit (``max_header_bytes``), so an over-long
  header never buffers more than that;
- :meth:`ConnectionServer.shutdown` (SIGTERM/SIGINT): stop listening, close idle connections,
  give open requests ``shutdown_grace`` seconds to finish, then answer the rest with ``error``
  (code ``server-stopping``) and their terminal events, and wait until every connection task
  has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from wyoming.error import Error
from wyoming.event import async_write_event

from .handler import LINGER_SECONDS, WorkersAIEventHandler
from .limits import SERVER_BUSY, SERVER_STOPPING, Limits

_LOGGER = logging.getLogger(__name__)

HandlerFactory = Callable[[asyncio.StreamReader, asyncio.StreamWriter], WorkersAIEventHandler]

ABORT_SECONDS = 2.0
"""After the grace period: seconds to tell the remaining clients and end their tasks."""


class ConnectionServer:
    """The listening socket and every connection's handler task."""

    def __init__(self, factory: HandlerFactory, limits: Limits) -> None:
        """``factory`` builds one handler per accepted connection."""
        self._factory = factory
        self._limits = limits
        self._server: asyncio.Server | None = None
        self._handlers: dict[asyncio.Task[None], WorkersAIEventHandler] = {}
        self._refusals: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def connections(self) -> int:
        """Connections being served now."""
        return len(self._handlers)

    @property
    def port(self) -> int | None:
        """The bound TCP port (``None`` for a Unix socket or before start)."""
        if self._server is None or not self._server.sockets:
            return None
        name = self._server.sockets[0].getsockname()
        return int(name[1]) if isinstance(name, tuple) else None

    async def start_tcp(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (port 0: any free port, see :attr:`port`)."""
        self._server = await asyncio.start_server(
            self._accept, host=host, port=port, limit=self._limits.max_header_bytes
        )

    async def start_unix(self, path: str) -> None:
        """Listen on the Unix socket ``path`` (replacing a stale socket file)."""
        Path(path).unlink(missing_ok=True)  # noqa: ASYNC240 - once, at startup
        self._server = await asyncio.start_unix_server(
            self._accept, path=path, limit=self._limits.max_header_bytes
        )

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._stopping or len(self._handlers) >= self._limits.max_connections:
            if self._stopping:
                text, code = "The server is shutting down", SERVER_STOPPING
            else:
                text = f"Server busy: {self._limits.max_connections} connections, try again later"
                code = SERVER_BUSY
                _LOGGER.warning("Refusing a connection: %d connections open", len(self._handlers))
            task = asyncio.create_task(_refuse(reader, writer, text, code))
            self._refusals.add(task)
            task.add_done_callback(self._refusals.discard)
            return
        handler = self._factory(reader, writer)
        task = asyncio.create_task(handler.run(), name="wyoming connection")
        self._handlers[task] = handler
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._handlers.pop(task, None)
        if not task.cancelled() and (err := task.exception()) is not None:
            _LOGGER.error("Connection handler failed", exc_info=err)

    async def shutdown(self) -> None:
        """Graceful stop; returns when no connection task is left."""
        self._stopping = True
        if self._server is not None:
            self._server.close()  # stop accepting; open connections stay
        for handler in list(self._handlers.values()):
            handler.request_stop()
        tasks = set(self._handlers)
        if tasks:
            _LOGGER.info(
                "Waiting up to %g s for %d connection(s)", self._limits.shutdown_grace, len(tasks)
            )
            _, pending = await asyncio.wait(tasks, timeout=self._limits.shutdown_grace)
            if pending:
                _LOGGER.info("Stopping %d request(s) that did not finish in time", len(pending))
                await self._abort(pending)
        if self._refusals:
            await asyncio.wait(set(self._refusals), timeout=LINGER_SECONDS + 1)

    async def _abort(self, tasks: set[asyncio.Task[None]]) -> None:
        handlers = [self._handlers[task] for task in tasks if task in self._handlers]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ABORT_SECONDS / 2):
                await asyncio.gather(*(h.stop_now() for h in handlers), return_exceptions=True)
        for task in tasks:
            task.cancel()
        _, pending = await asyncio.wait(tasks, timeout=ABORT_SECONDS / 2)
        for handler in handlers:  # still stuck (a write to a dead peer): drop the socket
            if not handler.writer.is_closing():
                handler.writer.transport.abort()
        if pending:
            await asyncio.wait(pending, timeout=0.5)


async def _refuse(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, text: str, code: str
) -> None:
    """Tell a connection we cannot serve why, then close it (readably: see LINGER_SECONDS)."""
    try:
        async with asyncio.timeout(LINGER_SECONDS):
            await async_write_event(Error(text=text, code=code).event(), writer)
            if writer.can_write_eof():
                writer.write_eof()
            while await reader.read(64 << 10):
                pass
    except (TimeoutError, OSError, ValueError, RuntimeError):
        pass
    finally:
        writer.close()
