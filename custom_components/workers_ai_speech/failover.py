"""Failover of a speech service to another Home Assistant entity, behind a circuit breaker.

Each speech service (``stt`` / ``tts`` subentry) may name a *failover entity*: any Home
Assistant speech-to-text entity for a speech-to-text service, any text-to-speech entity for a
text-to-speech service (a local Whisper or Piper, the Wyoming integration's entities, Home
Assistant Cloud). When Workers AI fails in a way another engine can answer
(:func:`wyoming_server.workers_ai.failover.is_failover_trigger`: cannot connect, no answer in the
budget, 5xx after the retries, the daily allocation spent, an account refusal), the request is
answered by that entity instead. This is not the daily *budget* fallback of budget.py (a cheaper
Workers AI model once the user's neuron budget is spent).

Every service has a :class:`~wyoming_server.workers_ai.breaker.CircuitBreaker`: after
``failover_failures`` failures that say Workers AI is down (within 60 s) it opens and requests
go straight to the failover entity (or fail at once without one) for ``failover_open_seconds``;
then one request probes Workers AI and its success closes the breaker. While a breaker is not
closed, the service's "Degraded" binary sensor is on and a repair issue says so.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from wyoming_server.workers_ai.breaker import BreakerState, CircuitBreaker
from wyoming_server.workers_ai.failover import breaker_counts, is_failover_trigger

from .const import DOMAIN, SUBENTRY_STT, SUBENTRY_TTS

_LOGGER = logging.getLogger(__name__)

CONF_FAILOVER_ENTITY: Final = "failover_entity"
"""Subentry data: the entity ID of the service's failover entity (absent: none)."""
CONF_FAILOVER_FAILURES: Final = "failover_failures"
"""Entry option: failures within :data:`FAILURE_WINDOW_S` that open a service's breaker."""
CONF_FAILOVER_OPEN_SECONDS: Final = "failover_open_seconds"
"""Entry option: seconds an open breaker waits before one request probes Workers AI."""
DEFAULT_FAILOVER_FAILURES: Final = 3
DEFAULT_FAILOVER_OPEN_SECONDS: Final = 30.0
FAILURE_WINDOW_S: Final = 60.0
"""Seconds a failure counts toward opening the breaker."""

FAILOVER_TIMEOUT: Final = 8.0
"""Seconds the failover entity may take for one request (speech-to-text: after the end of the
audio; text-to-speech: per sentence batch), on top of the Workers AI attempt's own budget."""

ISSUE_DEGRADED: Final = "service_degraded_{}"
"""Repair issue ID (formatted with the subentry ID) while a service's breaker is not closed."""
SIGNAL_BREAKER_CHANGED: Final = f"{DOMAIN}_breaker_changed_{{}}"
"""Dispatcher signal (formatted with the subentry ID): the service's breaker changed state."""


@dataclass
class Attempt:
    """One request's use of the breaker: whether to call Workers AI, and as the probe."""

    failover: ServiceFailover
    allowed: bool
    probe: bool
    done: bool = False

    def succeeded(self) -> None:
        """Workers AI answered (also an answer refusing the request's input)."""
        if self.allowed and not self.done:
            self.done = True
            self.failover.breaker.record_success()
            self.failover.async_changed()

    def failed(self, err: BaseException) -> bool:
        """Record ``err`` of Workers AI; returns whether the failover entity should answer."""
        if self.allowed and not self.done:
            self.done = True
            if breaker_counts(err):
                self.failover.breaker.record_failure(f"{type(err).__name__}: {err}")
            else:  # Workers AI answered: it is up (a probe must not stay out forever)
                self.failover.breaker.record_success()
            self.failover.async_changed()
        return self.failover.entity_id is not None and is_failover_trigger(err)

    def cancelled(self) -> None:
        """Note that the request was cancelled before Workers AI answered.

        The user stopped, or Home Assistant cancelled: no evidence either way, so no failure is
        counted; a probe frees its slot and the next request probes (the breaker stays
        half-open).
        """
        if self.allowed and not self.done:
            self.done = True
            if self.probe:
                self.failover.breaker.release()


class ServiceFailover:
    """The breaker, failover entity and repair issue of one speech service."""

    def __init__(
        self,
        hass: HomeAssistant,
        subentry: ConfigSubentry,
        *,
        failures: int = DEFAULT_FAILOVER_FAILURES,
        open_s: float = DEFAULT_FAILOVER_OPEN_SECONDS,
    ) -> None:
        """A closed breaker for ``subentry``; ``failures`` and ``open_s`` from the options."""
        self.hass = hass
        self.subentry_id = subentry.subentry_id
        self.title = subentry.title
        entity_id = subentry.data.get(CONF_FAILOVER_ENTITY)
        self.entity_id: str | None = entity_id if isinstance(entity_id, str) and entity_id else None
        self.issue_id = ISSUE_DEGRADED.format(subentry.subentry_id)
        self.breaker = CircuitBreaker(
            subentry.title,
            failure_threshold=max(1, failures),
            window_s=FAILURE_WINDOW_S,
            open_s=max(0.0, open_s),
            on_change=self._on_change,
        )
        self._timer: CALLBACK_TYPE | None = None

    @property
    def degraded(self) -> bool:
        """Whether the breaker is open or half-open (Workers AI not proven back)."""
        return self.breaker.state is not BreakerState.CLOSED

    def attempt(self) -> Attempt:
        """Ask the breaker whether this request may call Workers AI."""
        probe = self.breaker.state is BreakerState.HALF_OPEN
        return Attempt(self, self.breaker.allow(), probe)

    def as_diagnostics(self) -> dict[str, object]:
        """Describe the breaker for diagnostics.

        State, failures in the window, the last failure, when it opened (UTC, ISO 8601; None
        while closed) and the failover entity (None: none). The last failure is an error
        message: redact it before it leaves.
        """
        snapshot = self.breaker.snapshot()
        opened_for_s = snapshot["opened_for_s"]
        opened_at = (
            (dt_util.utcnow() - timedelta(seconds=opened_for_s)).isoformat()
            if isinstance(opened_for_s, float | int)
            else None
        )
        return {
            "service": self.title,
            "state": snapshot["state"],
            "failures_in_window": snapshot["failures_in_window"],
            "failure_threshold": snapshot["failure_threshold"],
            "window_s": snapshot["window_s"],
            "open_s": snapshot["open_s"],
            "opened_at": opened_at,
            "opened_for_s": opened_for_s,
            "times_opened": snapshot["times_opened"],
            "last_failure": snapshot["last_failure"],
            "failover_entity": self.entity_id,
        }

    def unavailable_error(self, what: str) -> HomeAssistantError:
        """The error for a request refused by the open breaker when there is no failover."""
        snapshot = self.breaker.snapshot()
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="service_degraded",
            translation_placeholders={
                "what": what,
                "service": self.title,
                "seconds": f"{self.breaker.open_s:g}",
                "error": str(snapshot["last_failure"]),
            },
        )

    @callback
    def _on_change(self, breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        """Log, raise or clear the repair issue, update the binary sensor."""
        if new is BreakerState.OPEN:
            _LOGGER.warning(
                "%s: Workers AI failed %s times (last: %s); %s for %g s",
                self.title,
                breaker.failure_threshold,
                breaker.last_failure,
                f"using {self.entity_id}" if self.entity_id else "refusing requests",
                breaker.open_s,
            )
            self._cancel_timer()
            # The breaker turns half-open when read after open_s: read it then, so the binary
            # sensor shows it without waiting for a request.
            self._timer = async_call_later(self.hass, breaker.open_s, self._async_check)
        elif new is BreakerState.CLOSED:
            _LOGGER.info("%s: Workers AI answers again", self.title)
            self._cancel_timer()
        if new is BreakerState.CLOSED:
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
        elif old is BreakerState.CLOSED:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self.issue_id,
                is_fixable=False,
                is_persistent=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=(
                    "service_degraded" if self.entity_id else "service_degraded_no_failover"
                ),
                translation_placeholders={
                    "service": self.title,
                    "failures": str(breaker.failure_threshold),
                    "error": str(breaker.last_failure),
                    "seconds": f"{breaker.open_s:g}",
                    "failover": self.entity_id or "",
                },
            )
        self.async_changed()

    @callback
    def async_changed(self) -> None:
        """Tell the binary sensor (failures counted, state)."""
        async_dispatcher_send(self.hass, SIGNAL_BREAKER_CHANGED.format(self.subentry_id))

    @callback
    def _async_check(self, _now: object) -> None:
        self._timer = None
        _ = self.breaker.state  # OPEN → HALF_OPEN once open_s has passed (calls _on_change)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer()
            self._timer = None

    @callback
    def async_unload(self) -> None:
        """The entry unloads: stop the timer and remove the repair issue."""
        self._cancel_timer()
        self.breaker.on_change = None
        ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)


@callback
def async_setup_failovers(hass: HomeAssistant, entry: ConfigEntry) -> dict[str, ServiceFailover]:
    """Set up one closed breaker per speech service of ``entry``.

    A reload starts them closed; each stops its timer and removes its repair issue when the
    entry unloads.
    """
    failures = entry.options.get(CONF_FAILOVER_FAILURES, DEFAULT_FAILOVER_FAILURES)
    open_s = entry.options.get(CONF_FAILOVER_OPEN_SECONDS, DEFAULT_FAILOVER_OPEN_SECONDS)
    failovers: dict[str, ServiceFailover] = {}
    for subentry in entry.subentries.values():
        if subentry.subentry_type not in (SUBENTRY_STT, SUBENTRY_TTS):
            continue
        failover = ServiceFailover(hass, subentry, failures=int(failures), open_s=float(open_s))
        ir.async_delete_issue(hass, DOMAIN, failover.issue_id)  # left by a crash
        entry.async_on_unload(failover.async_unload)
        failovers[subentry.subentry_id] = failover
    return failovers


def failover_failed(what: str, entity_id: str, error: str) -> HomeAssistantError:
    """The translated error of a failover entity that did not answer."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="failover_failed",
        translation_placeholders={"what": what, "entity": entity_id, "error": error},
    )
