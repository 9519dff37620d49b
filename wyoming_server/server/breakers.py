"""The server's failover state: one circuit breaker per task (``stt``, ``tts``), shared by every
connection, with its log lines and metrics; always there, with or without a fallback.

An open breaker sends requests straight to the fallback, or without one fails them at once
(:meth:`TaskFailover.unavailable`), so a dead cloud costs one timeout, not one per request
(https://martinfowler.com/bliki/CircuitBreaker.html); see
``workers_ai/breaker.py`` for the states and ``workers_ai/failover.py`` for which failures
trigger a failover and which count toward opening the breaker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..workers_ai import WorkersAIClient
from ..workers_ai.breaker import BreakerState, CircuitBreaker
from ..workers_ai.errors import (
    AccountNotAllowedError,
    AccountNotFoundError,
    AuthenticationError,
    ConnectionFailedError,
    QuotaExceededError,
)
from ..workers_ai.failover import breaker_counts
from .failover_config import FailoverOptions
from .fallback_engines import (
    SttEngine,
    TtsEngine,
    WorkersAISttEngine,
    WorkersAITtsEngine,
    WyomingSttEngine,
    WyomingTtsEngine,
)
from .request_errors import SERVICE_UNAVAILABLE, BadRequestError, describe_failure

if TYPE_CHECKING:
    from .metrics import ServerMetrics

_LOGGER = logging.getLogger(__name__)

STATE_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
"""``wyoming_breaker_state`` values."""

BREAKER_OPEN = "breaker-open"
"""Failover reason when Workers AI was not asked at all."""

_TASK_NAMES = {"stt": "speech to text", "tts": "text to speech"}


class TaskFailover:
    """The breaker and the fallback engines of one task."""

    def __init__(
        self,
        task: str,
        options: FailoverOptions,
        *,
        models: list[object],
        wyoming: list[object],
        metrics: ServerMetrics | None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``models`` are Workers AI engines, ``wyoming`` other servers (tried in that order)."""
        self.task = task
        self._metrics = metrics
        kwargs = {} if clock is None else {"clock": clock}
        self.breaker = CircuitBreaker(
            task,
            failure_threshold=options.breaker_failures,
            window_s=options.breaker_window,
            open_s=options.breaker_open,
            on_change=self._changed,
            **kwargs,
        )
        self._models = models
        self._wyoming = wyoming
        if metrics is not None:
            metrics.breaker_state.labels(task).set_function(
                lambda: STATE_VALUES[self.breaker.state]
            )

    @property
    def engines(self) -> list[object]:
        """Every fallback, in the order they are tried."""
        return [*self._models, *self._wyoming]

    @property
    def has_fallback(self) -> bool:
        """Whether a request Workers AI cannot answer goes to a fallback."""
        return bool(self._models or self._wyoming)

    def unavailable(self) -> BadRequestError:
        """The error of a request refused because the breaker is open and there is no fallback
        (code ``service-unavailable``; the text names the last failure and when Workers AI is
        tried again)."""
        snap = self.breaker.snapshot()
        opened_for = snap["opened_for_s"]
        if snap["state"] == "open" and isinstance(opened_for, float | int):
            again = f"in {max(1, round(self.breaker.open_s - opened_for))} s"
        else:  # half-open: another request is probing Workers AI right now
            again = "as soon as the request probing it now ends"
        task = _TASK_NAMES.get(self.task, self.task)
        return BadRequestError(
            f"Workers AI {task} is unavailable ({self.breaker.failure_threshold} failure(s), "
            f"last: {snap['last_failure']}); requests fail at once until it is tried again "
            f"{again}",
            SERVICE_UNAVAILABLE,
        )

    def _changed(self, breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        level = logging.WARNING if new is BreakerState.OPEN else logging.INFO
        _LOGGER.log(
            level,
            "Workers AI %s breaker %s -> %s (last failure: %s; fallback: %s)",
            breaker.name,
            old,
            new,
            breaker.last_failure,
            ", ".join(str(getattr(e, "name", e)) for e in self.engines) or "none",
        )

    def fallbacks_for(self, err: BaseException | None) -> list[object]:
        """The engines to try after ``err`` (``None``: the breaker is open).

        Workers AI models are skipped when the failure is the account's or the network's (they
        would meet it again), and while the breaker is open if a Wyoming fallback exists.
        """
        if err is None:
            return self._wyoming or self._models
        if _account_wide(err):
            return list(self._wyoming)
        return self.engines

    def record(self, err: BaseException | None) -> None:
        """Tell the breaker how Workers AI answered (``None``: it did)."""
        if err is None:
            self.breaker.record_success()
        elif breaker_counts(err):
            self.breaker.record_failure(describe_failure(err).code)
        else:  # the request's own fault: Workers AI did answer
            self.breaker.record_success()

    def count(self, reason: str, fallback: str) -> None:
        """One request that went to a fallback (``fallback``: the engine, or ``failed``)."""
        if self._metrics is not None:
            self._metrics.failovers.labels(self.task, reason, fallback).inc()


def _account_wide(err: BaseException) -> bool:
    """Failures another Workers AI model would meet too: the network's or the account's."""
    return isinstance(
        err,
        ConnectionFailedError
        | QuotaExceededError
        | AuthenticationError
        | AccountNotFoundError
        | AccountNotAllowedError,
    )


class Failover:
    """Process-wide failover: ``stt`` and ``tts``, each with its breaker (and fallbacks, if
    configured)."""

    def __init__(
        self,
        options: FailoverOptions,
        client: WorkersAIClient,
        metrics: ServerMetrics | None = None,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Engines are built from ``options``; ``metrics`` gets the breaker gauges."""
        self.options = options
        stt_models: list[object] = []
        if options.stt_model:
            stt_models.append(WorkersAISttEngine(client, options.stt_model, options.timeout))
        stt_wyoming: list[object] = []
        if options.stt_uri:
            stt_wyoming.append(WyomingSttEngine(options.stt_uri, options.timeout))
        self.stt = TaskFailover(
            "stt", options, models=stt_models, wyoming=stt_wyoming, metrics=metrics, clock=clock
        )
        tts_models: list[object] = []
        if options.tts_voice:
            tts_models.append(WorkersAITtsEngine(client, options.tts_voice, options.timeout))
        tts_wyoming: list[object] = []
        if options.tts_uri:
            tts_wyoming.append(WyomingTtsEngine(options.tts_uri, options.timeout))
        self.tts = TaskFailover(
            "tts", options, models=tts_models, wyoming=tts_wyoming, metrics=metrics, clock=clock
        )

    def tasks(self) -> list[TaskFailover]:
        """Both tasks (``stt``, ``tts``)."""
        return [self.stt, self.tts]

    def log_state(self) -> None:
        """One line per breaker (on ``describe``): INFO while one is not closed, else DEBUG."""
        for task in self.tasks():
            snap = task.breaker.snapshot()
            level = logging.DEBUG if snap["state"] == "closed" else logging.INFO
            _LOGGER.log(level, "Breaker %s", snap)


__all__ = ["BREAKER_OPEN", "Failover", "SttEngine", "TaskFailover", "TtsEngine"]
