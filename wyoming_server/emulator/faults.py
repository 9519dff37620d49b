"""Fault injection: what tests and benchmarks can make the emulator do wrong or slowly.

Driven in-process (``emulator.faults``) or over the control API (``POST /__emulator__/faults``,
see :mod:`wyoming_server.emulator.control`). All settings apply until changed or ``reset()``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .errors import CloudflareError

DEFAULT_FAILURE_STATUS = 500
DEFAULT_FAILURE_CODE = 3001
DEFAULT_FAILURE_MESSAGE = "Internal server error"

DAILY_ALLOCATION_MESSAGE = (
    "you have used up your daily free allocation of 10,000 neurons, please upgrade to "
    "Cloudflare's Workers Paid plan if you would like to continue usage."
)
"""The text Cloudflare answers with 4006 and 3036 (3036 on https://developers.cloudflare.com/workers-ai/platform/errors/;
4006 with the same text in projects calling the API)."""

CODE_MESSAGES: dict[int, str] = {
    4006: DAILY_ALLOCATION_MESSAGE,
    3036: DAILY_ALLOCATION_MESSAGE,
    3021: "Rate limited: too many requests, please try again later",
    3040: "Capacity temporarily exceeded, please try again.",
    5035: "This model requires a Workers Paid plan. Upgrade to continue.",
    10000: "Authentication error",
    3006: "Request is too large",
}
"""Default messages of injected failures by code, when ``fail_next`` names none."""

# Settings a control request may set, and their types (None clears a setting).
_NUMBER_FIELDS = ("latency_ms", "model_latency_ms", "upload_bytes_per_second", "rtt_ms")
_INT_FIELDS = ("ws_drop_after_messages",)
_BOOL_FIELDS = ("aura_rest_ignores_encoding",)


@dataclass
class _Failure:
    status: int
    code: int
    message: str
    retry_after: int | None = None


@dataclass
class Faults:
    """Faults the emulator injects; every field off (0 / None) by default.

    - ``latency_ms``: extra delay in milliseconds before every Cloudflare API call is answered
      (REST run, WebSocket handshake, models search).
    - ``model_latency_ms``: every model inference takes at least this long in milliseconds (the
      emulator sleeps the rest after the real inference), so benchmarks see a constant backend.
    - ``upload_bytes_per_second``: request bodies and WebSocket audio are read at this rate in
      bytes per second (e.g. 125000 = 1 Mbit/s); ``None`` = unthrottled.
    - ``ws_drop_after_messages``: every WebSocket opened while set is dropped abruptly (TCP
      close, no close frame) after the server has sent this many messages; ``None`` = never.
    - ``rtt_ms``: network round-trip time in milliseconds, as between a home and Cloudflare:
      every HTTP request (REST call, WebSocket handshake) is answered one RTT later, two more on
      a new connection (TCP and TLS handshakes); every WebSocket message the emulator sends
      arrives one RTT after the client message (or audio) that caused it.
    - ``aura_rest_ignores_encoding``: aura REST answers MP3 whatever ``encoding`` /
      ``container`` ask for (live probes published in https://github.com/xujialiu/Zotero-TTS
      saw the same bytes with and without ``encoding``: not confirmed that Workers AI honours
      them over REST).
    - ``fail_next(n, status, code, message, retry_after)``: the next ``n`` model calls (REST
      run or WebSocket handshake, where the refusal carries the same v4 JSON body; not
      the models search) fail with that v4 error envelope (and a ``Retry-After`` header).
      Without a message, a known code gets Cloudflare's text (:data:`CODE_MESSAGES`).
    """

    latency_ms: float = 0.0
    model_latency_ms: float = 0.0
    upload_bytes_per_second: float | None = None
    ws_drop_after_messages: int | None = None
    rtt_ms: float = 0.0
    aura_rest_ignores_encoding: bool = False
    _failures: list[_Failure] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def fail_next(
        self,
        count: int = 1,
        status: int = DEFAULT_FAILURE_STATUS,
        code: int = DEFAULT_FAILURE_CODE,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Make the next ``count`` model calls fail with HTTP ``status`` and error ``code``.

        E.g. ``fail_next(2, status=429, code=3040, message="Capacity temporarily exceeded,
        please try again.")``. Replaces any failures still pending.
        Raises ``ValueError`` for a negative count or a status outside 400-599.
        """
        if count < 0:
            raise ValueError("count must be >= 0")
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        with self._lock:
            text = message or CODE_MESSAGES.get(code, DEFAULT_FAILURE_MESSAGE)
            self._failures = [_Failure(status, code, text, retry_after) for _ in range(count)]

    @property
    def pending_failures(self) -> int:
        """How many injected failures are still to be served."""
        with self._lock:
            return len(self._failures)

    def take_failure(self) -> CloudflareError | None:
        """Consume one injected failure, if any, as the error to answer."""
        with self._lock:
            if not self._failures:
                return None
            failure = self._failures.pop(0)
        headers = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        return CloudflareError(failure.status, failure.code, failure.message, headers=headers)

    def reset(self) -> None:
        """Turn every fault off."""
        with self._lock:
            self._failures = []
        self.latency_ms = 0.0
        self.model_latency_ms = 0.0
        self.upload_bytes_per_second = None
        self.ws_drop_after_messages = None
        self.rtt_ms = 0.0
        self.aura_rest_ignores_encoding = False

    def update(self, settings: dict[str, Any]) -> None:
        """Apply control-API settings (see :func:`parse_settings` for the accepted keys).

        Raises ``ValueError`` for an unknown key or a value of the wrong type.
        """
        parsed = parse_settings(settings)
        for name in _NUMBER_FIELDS + _INT_FIELDS:
            if name in parsed:
                value = parsed[name]
                if name in ("latency_ms", "model_latency_ms", "rtt_ms"):
                    value = 0.0 if value is None else value
                setattr(self, name, value)
        for name in _BOOL_FIELDS:
            if name in parsed:
                setattr(self, name, parsed[name])
        if "fail_next" in parsed:
            self.fail_next(
                parsed["fail_next"],
                status=parsed.get("status", DEFAULT_FAILURE_STATUS),
                code=parsed.get("code", DEFAULT_FAILURE_CODE),
                message=parsed.get("message"),
                retry_after=parsed.get("retry_after"),
            )

    def snapshot(self) -> dict[str, Any]:
        """The current settings as JSON-able data (the control API's answer)."""
        return {
            "latency_ms": self.latency_ms,
            "model_latency_ms": self.model_latency_ms,
            "upload_bytes_per_second": self.upload_bytes_per_second,
            "ws_drop_after_messages": self.ws_drop_after_messages,
            "rtt_ms": self.rtt_ms,
            "aura_rest_ignores_encoding": self.aura_rest_ignores_encoding,
            "pending_failures": self.pending_failures,
        }


def parse_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Validate control-API settings.

    Keys: ``latency_ms``, ``model_latency_ms``, ``upload_bytes_per_second``, ``rtt_ms``
    (numbers >= 0 or null), ``ws_drop_after_messages`` (integer >= 0 or null),
    ``aura_rest_ignores_encoding`` (boolean), ``fail_next`` (integer >= 0) with optional
    ``status`` (400-599), ``code`` (integer), ``message`` (string) and ``retry_after`` (integer
    seconds).
    Raises ``ValueError`` naming the offending key.
    """
    allowed = {
        *_NUMBER_FIELDS,
        *_INT_FIELDS,
        *_BOOL_FIELDS,
        "fail_next",
        "status",
        "code",
        "message",
        "retry_after",
    }
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
    parsed: dict[str, Any] = {}
    for name in _NUMBER_FIELDS:
        if name in settings:
            value = settings[name]
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                raise ValueError(f"{name} must be a number >= 0 or null")
            if name == "upload_bytes_per_second" and value == 0:
                value = None
            parsed[name] = None if value is None else float(value)
    for name in _BOOL_FIELDS:
        if name in settings:
            if not isinstance(settings[name], bool):
                raise ValueError(f"{name} must be true or false")
            parsed[name] = settings[name]
    for name in (*_INT_FIELDS, "fail_next", "status", "code", "retry_after"):
        if name in settings:
            value = settings[name]
            nullable = name == "ws_drop_after_messages"
            if value is None and nullable:
                parsed[name] = None
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0")
            parsed[name] = value
    if "message" in settings:
        if not isinstance(settings["message"], str):
            raise ValueError("message must be a string")
        parsed["message"] = settings["message"]
    if "status" in parsed and not 400 <= parsed["status"] <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    if (
        "status" in parsed or "code" in parsed or "message" in parsed or "retry_after" in parsed
    ) and "fail_next" not in parsed:
        raise ValueError("status/code/message/retry_after need fail_next")
    return parsed
