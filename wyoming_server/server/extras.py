"""Optional server features around the Workers AI client: usage metering with a daily log line,
Prometheus metrics (``--metrics-port``), the vocabulary (``--keyterm``, ``--keyterms-file``)
and a Home Assistant's names (``--hass-url`` + ``--hass-token-file``, or the add-on's
``SUPERVISOR_TOKEN``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiohttp

from ..workers_ai import WorkersAIClient
from ..workers_ai.usage import UsageMeter
from .hass_names import SUPERVISOR_CORE_URL, HomeAssistantNames
from .metrics import ServerMetrics, log_finished_day
from .vocabulary import ServerVocabulary

_LOGGER = logging.getLogger(__name__)

ROLL_OVER_CHECK_SECONDS = 60.0
"""How often the meter checks for 00:00 UTC (so the daily line comes without traffic)."""


class ExtrasError(Exception):
    """An optional feature cannot start (bad flag combination, unreadable token, missing extra)."""


@dataclass
class ServerExtras:
    """What the connection handlers use."""

    meter: UsageMeter
    vocabulary: ServerVocabulary
    metrics: ServerMetrics | None = None
    home: HomeAssistantNames | None = None


def hass_connection(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """``(url, token)`` of the Home Assistant to read names from, or ``None``.

    ``--hass-url`` with ``--hass-token-file``; without them, an add-on's ``SUPERVISOR_TOKEN``
    with ``http://supervisor/core``.

    Raises:
        ExtrasError: ``--hass-url`` without a token, or the token file cannot be read.
    """
    url: str | None = args.hass_url
    token_file: Path | None = args.hass_token_file
    if url is None and token_file is None:
        token = environ.get("SUPERVISOR_TOKEN", "").strip()
        return (SUPERVISOR_CORE_URL, token) if token else None
    if url is None or token_file is None:
        raise ExtrasError("--hass-url and --hass-token-file go together")
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise ExtrasError(f"--hass-token-file: cannot read {token_file}: {err}") from err
    if not token:
        raise ExtrasError(f"--hass-token-file: {token_file} is empty")
    return url, token


async def _roll_over(meter: UsageMeter, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        meter.roll_over()


@contextlib.asynccontextmanager
async def server_extras(
    args: argparse.Namespace,
    client: WorkersAIClient,
    environ: Mapping[str, str],
    keyterms: tuple[str, ...],
    *,
    clock: Callable[[], datetime] | None = None,
    roll_over_seconds: float = ROLL_OVER_CHECK_SECONDS,
) -> AsyncIterator[ServerExtras]:
    """Start the optional features for the server's lifetime.

    The usage of each finished UTC day is logged in one line (checked every
    ``roll_over_seconds``, so the line comes without traffic too), and today's so far at the
    end. ``clock`` (aware ``datetime``; default: now) is for tests.

    Raises:
        ExtrasError: see :func:`hass_connection`; ``--metrics-port`` without
            ``prometheus-client`` installed.
    """
    meter = UsageMeter() if clock is None else UsageMeter(clock)
    client.usage = meter
    meter.add_day_listener(log_finished_day)
    async with contextlib.AsyncExitStack() as stack:
        metrics = None
        if args.metrics_port is not None:
            try:
                metrics = ServerMetrics(meter)
            except ImportError as err:
                raise ExtrasError(
                    "--metrics-port needs prometheus-client "
                    "(pip install 'wyoming-workers-ai[metrics]')"
                ) from err
            runner = await metrics.start_http(args.metrics_host, args.metrics_port)
            stack.push_async_callback(runner.cleanup)
        home = None
        connection = hass_connection(args, environ)
        if connection is not None:
            session = await stack.enter_async_context(aiohttp.ClientSession())
            home = HomeAssistantNames(
                session, connection[0], connection[1], refresh_seconds=args.hass_refresh_seconds
            )
            home.start()
            stack.push_async_callback(home.aclose)
            _LOGGER.info("Reading names from Home Assistant at %s", connection[0])
        vocabulary = ServerVocabulary(
            keyterms, args.keyterms_file, home.current if home is not None else None
        )
        roll_over = asyncio.create_task(
            _roll_over(meter, roll_over_seconds), name="usage day roll-over"
        )
        try:
            yield ServerExtras(meter, vocabulary, metrics, home)
        finally:
            roll_over.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await roll_over
            _LOGGER.info("Stopping; so far today: %s", meter.today().summary())
