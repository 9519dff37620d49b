"""Resource limits of the Wyoming server: per event, per utterance, per connection, per process.

The server listens on home networks where any device can connect, and the Wyoming protocol has
no authentication (https://github.com/OHF-Voice/wyoming#security). Every resource a client can
make the server hold is bounded here, with defaults far above what Home Assistant or a satellite
needs (an ``audio-chunk`` from Home Assistant is 2 KiB, a header under 1 KiB):

- an event: header line, additional data and payload sizes, and the time to receive it once its
  first byte arrived;
- a connection: the time it may stay without an event;
- an utterance: seconds of audio (every model) and input bytes, both checked *before*
  conversion to 16 kHz;
- the process: concurrent connections and concurrent requests to Workers AI (extra requests
  wait up to ``backend_queue_timeout`` seconds for a slot, then get a ``server-busy`` error).

A client over a limit gets a Wyoming ``error`` (with the terminal event its request waits for)
before its connection closes; other connections never notice.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from .request_errors import BadRequestError

SERVER_BUSY = "server-busy"
"""Error code: too many connections or requests; try again later."""
SERVER_STOPPING = "server-stopping"
"""Error code: the server is shutting down; the request was not finished."""
IDLE_TIMEOUT = "idle-timeout"
"""Error code: the connection sent no event for ``idle_timeout`` seconds."""
EVENT_TIMEOUT = "event-timeout"
"""Error code: an event was started but not completed within ``event_timeout`` seconds."""
EVENT_TOO_LARGE = "event-too-large"
"""Error code: an event's header, data or payload is over its limit."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Every bound the server enforces (sizes in bytes, times in seconds)."""

    max_header_bytes: int = 64 << 10
    """Largest event header line (the JSON before the first newline)."""
    max_data_bytes: int = 256 << 10
    """Largest additional-data section of one event."""
    max_payload_bytes: int = 1 << 20
    """Largest payload of one event (an ``audio-chunk``'s PCM)."""
    event_timeout: float = 10.0
    """Seconds to receive the rest of an event once its first byte arrived, and to write one
    event to a client that does not read."""
    idle_timeout: float = 60.0
    """Seconds a connection may stay without sending an event. A request still open then
    (an utterance without ``audio-stop``, a stream without ``synthesize-stop``) fails."""
    max_audio_seconds: float = 30.0
    """Seconds of audio per utterance for every model, counted before conversion; audio past it
    is dropped and the utterance is transcribed as if ``audio-stop`` had come; an ``error``
    ``utterance-truncated`` follows its ``transcript``. (Flux turns end earlier, at
    ``--max-utterance-seconds``.)"""
    max_utterance_bytes: int = 8 << 20
    """Input audio bytes per utterance, counted before conversion; audio past it is dropped and
    the utterance is transcribed as if ``audio-stop`` had come."""
    max_connections: int = 100
    """Concurrent client connections; more are refused with a ``server-busy`` error."""
    max_backend_requests: int = 32
    """Concurrent speech requests (utterances, TTS replies) using Workers AI; each holds one
    slot from its ``audio-start``/first text to its end."""
    backend_queue_timeout: float = 5.0
    """Seconds a request waits for a free slot before it fails with ``server-busy``."""
    shutdown_grace: float = 5.0
    """Seconds in-flight requests get to finish after SIGTERM/SIGINT."""


DEFAULT_LIMITS = Limits()


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


# flag, Limits field, parser, help
_FLAGS: tuple[tuple[str, str, type[float] | type[int], str], ...] = (
    ("--max-header-bytes", "max_header_bytes", int, "Largest event header line in bytes"),
    ("--max-data-bytes", "max_data_bytes", int, "Largest event data section in bytes"),
    ("--max-payload-bytes", "max_payload_bytes", int, "Largest event payload (audio chunk)"),
    (
        "--event-timeout",
        "event_timeout",
        float,
        "Seconds to receive (or send) the rest of an event once it started",
    ),
    ("--idle-timeout", "idle_timeout", float, "Seconds a connection may send no event"),
    (
        "--max-audio-seconds",
        "max_audio_seconds",
        float,
        "Seconds of audio per utterance, any model (before conversion)",
    ),
    (
        "--max-utterance-bytes",
        "max_utterance_bytes",
        int,
        "Input audio bytes per utterance (before conversion)",
    ),
    ("--max-connections", "max_connections", int, "Concurrent client connections"),
    (
        "--max-backend-requests",
        "max_backend_requests",
        int,
        "Concurrent speech requests to Workers AI",
    ),
    (
        "--backend-queue-timeout",
        "backend_queue_timeout",
        float,
        "Seconds a request waits for a free Workers AI slot",
    ),
    (
        "--shutdown-grace",
        "shutdown_grace",
        float,
        "Seconds in-flight requests get to finish on SIGTERM/SIGINT",
    ),
)


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per :class:`Limits` field (``--max-header-bytes``, ``--idle-timeout``, ...)."""
    group = parser.add_argument_group("limits (protection against misbehaving clients)")
    for flag, name, kind, text in _FLAGS:
        default = getattr(DEFAULT_LIMITS, name)
        convert: Callable[[str], float]
        if name == "shutdown_grace":
            convert = _non_negative_float
        else:
            convert = _positive_int if kind is int else _positive_float
        group.add_argument(
            flag,
            dest=f"limit_{name}",
            type=convert,
            default=default,
            help=f"{text} (default {default})",
        )


def limits_from_args(args: argparse.Namespace) -> Limits:
    """The :class:`Limits` chosen on the command line."""
    return Limits(**{name: getattr(args, f"limit_{name}") for _, name, _, _ in _FLAGS})


class BackendSlots:
    """At most ``max_backend_requests`` speech requests at once; the rest queue, bounded."""

    def __init__(self, limits: Limits) -> None:
        """Slots and queue time from ``limits``."""
        self._limits = limits
        self._semaphore = asyncio.Semaphore(limits.max_backend_requests)

    async def acquire(self) -> Slot:
        """Wait for a free slot.

        Raises:
            BadRequestError: code ``server-busy`` when no slot frees up within
                ``backend_queue_timeout`` seconds.
        """
        try:
            async with asyncio.timeout(self._limits.backend_queue_timeout):
                await self._semaphore.acquire()
        except TimeoutError:
            raise BadRequestError(
                f"Server busy: {self._limits.max_backend_requests} requests in progress, "
                "try again later",
                SERVER_BUSY,
            ) from None
        return Slot(self._semaphore)


class Slot:
    """One held backend slot; :meth:`release` is idempotent."""

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        """Holds ``semaphore`` until :meth:`release`."""
        self._semaphore: asyncio.Semaphore | None = semaphore

    def release(self) -> None:
        """Give the slot back (once)."""
        semaphore, self._semaphore = self._semaphore, None
        if semaphore is not None:
            semaphore.release()
