"""A circuit breaker for Workers AI: a dead cloud costs one timeout, not one per request.

CLOSED (normal) → OPEN after ``failure_threshold`` failures within ``window_s`` seconds;
while OPEN, :meth:`CircuitBreaker.allow` refuses at once (the caller goes straight to its
fallback); after ``open_s`` seconds the breaker is HALF_OPEN and lets exactly one request
through as a probe; the probe's success closes it, its failure opens it again for ``open_s``,
and a probe abandoned before Workers AI answered (:meth:`CircuitBreaker.release`) frees the
probe slot for the next request without counting a failure.
This is the pattern as Martin Fowler describes it (https://martinfowler.com/bliki/CircuitBreaker.html).

Written here rather than taken from a library: ``purgatory`` counts consecutive failures (no
window), lets every request through while half-open and reads the wall clock;
``pybreaker``'s asynchronous calls need Tornado. Neither gives the single probe with an
injectable monotonic clock that the voice path and its tests need.

Not thread-safe; meant for one asyncio event loop (no awaits inside, so no locking needed).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    """The breaker's state, as logged, exported as a metric and shown in Home Assistant."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


ChangeCallback = Callable[["CircuitBreaker", BreakerState, BreakerState], None]
"""``on_change(breaker, old, new)``, called synchronously on every change of state."""


class CircuitBreaker:
    """One breaker (e.g. per task or per Home Assistant speech service).

    Args:
        name: shown in logs, metrics and reports (e.g. ``"stt"``).
        failure_threshold: failures within ``window_s`` that open the breaker (K ≥ 1).
        window_s: seconds a failure counts for.
        open_s: seconds the breaker stays open before one probe is let through.
        clock: monotonic seconds (tests pass a fake one).
        on_change: called on every state change.

    Raises:
        ValueError: for a threshold below 1 or a negative window or open time.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 3,
        window_s: float = 60.0,
        open_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: ChangeCallback | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if window_s < 0 or open_s < 0:
            raise ValueError("window_s and open_s must not be negative")
        self.name = name
        self.failure_threshold = failure_threshold
        self.window_s = window_s
        self.open_s = open_s
        self.on_change = on_change
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures: deque[float] = deque()
        self._opened_at: float | None = None
        self._probe_out = False
        self.times_opened = 0
        self.last_failure: str | None = None

    @property
    def state(self) -> BreakerState:
        """The current state; an OPEN breaker reads HALF_OPEN once ``open_s`` has passed."""
        if (
            self._state is BreakerState.OPEN
            and self._opened_at is not None
            and self._clock() - self._opened_at >= self.open_s
        ):
            self._set(BreakerState.HALF_OPEN)
        return self._state

    def allow(self) -> bool:
        """Whether to try Workers AI now.

        CLOSED: always. OPEN: never. HALF_OPEN: once, for the probe, until the probe reports
        :meth:`record_success` or :meth:`record_failure`.
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_out:
            self._probe_out = True
            return True
        return False

    def record_success(self) -> None:
        """Workers AI answered: close the breaker and forget the failures."""
        self._failures.clear()
        self._probe_out = False
        self._opened_at = None
        self._set(BreakerState.CLOSED)

    def record_failure(self, reason: str | None = None) -> None:
        """Workers AI failed in a way that says it is down for us (see ``failover``).

        ``reason`` (e.g. an error code) is kept for reports.
        """
        now = self._clock()
        self.last_failure = reason
        state = self.state
        if state is BreakerState.HALF_OPEN:
            self._open(now)
            return
        if state is BreakerState.OPEN:
            return
        self._failures.append(now)
        while self._failures and now - self._failures[0] > self.window_s:
            self._failures.popleft()
        if len(self._failures) >= self.failure_threshold:
            self._open(now)

    def release(self) -> None:
        """The probe was abandoned (its request cancelled) before Workers AI answered.

        No evidence either way: no failure is counted and the breaker stays HALF_OPEN, so the
        next request is the probe. Call it only from the request :meth:`allow` made the probe
        (while CLOSED or OPEN, or with no probe out, it does nothing).
        """
        if self._state is BreakerState.HALF_OPEN:
            self._probe_out = False

    def snapshot(self) -> dict[str, object]:
        """A JSON-ready view for logs, diagnostics and the doctor report (seconds)."""
        state = self.state
        now = self._clock()
        recent = sum(1 for t in self._failures if now - t <= self.window_s)
        return {
            "name": self.name,
            "state": str(state),
            "failures_in_window": recent if state is BreakerState.CLOSED else 0,
            "failure_threshold": self.failure_threshold,
            "window_s": self.window_s,
            "open_s": self.open_s,
            "opened_for_s": None if self._opened_at is None else round(now - self._opened_at, 3),
            "times_opened": self.times_opened,
            "last_failure": self.last_failure,
        }

    def _open(self, now: float) -> None:
        self._failures.clear()
        self._probe_out = False
        self._opened_at = now
        self.times_opened += 1
        self._set(BreakerState.OPEN)

    def _set(self, new: BreakerState) -> None:
        old = self._state
        if old is new:
            return
        self._state = new
        if self.on_change is not None:
            self.on_change(self, old, new)
