"""What ``doctor`` found: one :class:`Check` per model and transport, and the whole report.

No ``wyoming`` or ``homeassistant`` import: the Wyoming server's ``doctor`` command and the Home
Assistant action share it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..workers_ai.usage import Transport


class Outcome(StrEnum):
    """The verdict on one check.

    ``ok``: answered as the project expects (differences it already handles are listed in
    :attr:`Check.known`).
    ``deviation``: answered, but differently from what the project expects.
    ``error``: no usable answer (refused, unreachable, timed out); ``skipped``: not run
    because an earlier check showed the account cannot be used (authentication, quota).
    """

    OK = "ok"
    DEVIATION = "deviation"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(slots=True)
class Check:
    """One call of one model over one transport, and what came back.

    Times are milliseconds from the start of the call: ``connect_ms`` until the TCP/TLS
    connection (REST) or the WebSocket handshake (WebSocket) was done; ``first_result_ms`` until
    the response headers (REST) or the first transcript / audio frame (WebSocket);
    ``total_ms`` until the body was read or the WebSocket closed. ``neurons`` is the
    ``cf-ai-neurons`` response header (``None`` when absent); ``expected_neurons`` the
    catalog-price estimate. ``deviations`` break the run (non-zero exit); ``known`` are
    differences the project already handles (e.g. flux closing without a close code);
    ``notes`` are facts worth attaching to a bug report.
    """

    model_id: str
    transport: Transport
    documented: bool = True
    outcome: Outcome = Outcome.OK
    result: str = ""
    connect_ms: float | None = None
    first_result_ms: float | None = None
    total_ms: float | None = None
    neurons: float | None = None
    expected_neurons: float | None = None
    status: int | None = None
    content_type: str | None = None
    close_code: int | None = None
    error_code: int | None = None
    messages: list[str] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """``<model> <transport>``, e.g. ``@cf/deepgram/nova-3 websocket``."""
        return f"{self.model_id} {self.transport.value}"

    def deviate(self, text: str) -> None:
        """Record a deviation (once) and mark the check as deviating."""
        if text not in self.deviations:
            self.deviations.append(text)
        if self.outcome is Outcome.OK:
            self.outcome = Outcome.DEVIATION

    def fail(self, text: str) -> None:
        """Record that the call gave no usable answer."""
        self.outcome = Outcome.ERROR
        self.result = text

    def note(self, text: str) -> None:
        """Record a fact that is not a deviation (once)."""
        if text not in self.notes:
            self.notes.append(text)

    def knew(self, text: str) -> None:
        """Record a known, handled difference from the documentation (once)."""
        if text not in self.known:
            self.known.append(text)

    def saw(self, message_type: str) -> None:
        """Append a received message type, collapsing runs (``Results x5``)."""
        if self.messages:
            last = self.messages[-1]
            base, _, count = last.partition(" x")
            if base == message_type:
                self.messages[-1] = f"{base} x{int(count or 1) + 1}"
                return
        self.messages.append(message_type)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (enums as strings, times rounded to 0.1 ms)."""
        data = dataclasses.asdict(self)
        data["transport"] = self.transport.value
        data["outcome"] = self.outcome.value
        for key in ("connect_ms", "first_result_ms", "total_ms"):
            if data[key] is not None:
                data[key] = round(data[key], 1)
        if data["expected_neurons"] is not None:
            data["expected_neurons"] = round(data["expected_neurons"], 3)
        return data


@dataclass(slots=True)
class Report:
    """The whole run: where it went, what it cost, every check.

    ``account_id`` is shortened to its first 4 and last 4 characters (the report is meant to be
    attached to a public bug report). ``emulator`` is True when no credentials were given and
    the embedded emulator answered instead of Cloudflare.
    """

    api_base_url: str
    account_id: str
    emulator: bool
    started_at: str
    version: str
    expected_neurons: float
    checks: list[Check] = field(default_factory=list)

    @property
    def neurons(self) -> float | None:
        """Neurons reported by ``cf-ai-neurons`` over all checks (``None`` if none reported)."""
        values = [c.neurons for c in self.checks if c.neurons is not None]
        return sum(values) if values else None

    @property
    def failed(self) -> list[Check]:
        """Documented checks with a deviation or an error (what makes the exit code non-zero)."""
        return [
            c
            for c in self.checks
            if c.documented and c.outcome in (Outcome.DEVIATION, Outcome.ERROR)
        ]

    @property
    def ok(self) -> bool:
        """True when every documented check answered as expected."""
        return not self.failed and any(c.documented for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """The JSON report."""
        neurons = self.neurons
        return {
            "tool": "wyoming-workers-ai doctor",
            "version": self.version,
            "started_at": self.started_at,
            "api_base_url": self.api_base_url,
            "account_id": self.account_id,
            "emulator": self.emulator,
            "ok": self.ok,
            "deviations": sum(len(c.deviations) for c in self.failed),
            "errors": sum(1 for c in self.failed if c.outcome is Outcome.ERROR),
            "expected_neurons": round(self.expected_neurons, 2),
            "neurons": None if neurons is None else round(neurons, 3),
            "checks": [c.as_dict() for c in self.checks],
        }


def mask_account_id(account_id: str) -> str:
    """``0123456789abcdef...`` → ``0123…cdef`` (enough to tell accounts apart)."""
    account_id = account_id.strip()
    if len(account_id) <= 8:
        return "…"
    return f"{account_id[:4]}…{account_id[-4:]}"
