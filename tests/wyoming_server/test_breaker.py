"""The circuit breaker: K failures in a window open it, one probe after open_s, success closes."""

from __future__ import annotations

import pytest

from wyoming_server.workers_ai.breaker import BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(clock: FakeClock, changes: list[tuple[str, str]] | None = None) -> CircuitBreaker:
    def on_change(_b: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        if changes is not None:
            changes.append((str(old), str(new)))

    return CircuitBreaker(
        "stt", failure_threshold=3, window_s=60, open_s=30, clock=clock, on_change=on_change
    )


def test_opens_after_k_failures_within_the_window(clock: FakeClock) -> None:
    changes: list[tuple[str, str]] = []
    breaker = make(clock, changes)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure("timeout")
        clock.now += 10
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure("timeout")
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert changes == [("closed", "open")]
    assert breaker.snapshot()["times_opened"] == 1
    assert breaker.snapshot()["last_failure"] == "timeout"


def test_failures_older_than_the_window_do_not_count(clock: FakeClock) -> None:
    breaker = make(clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 61
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot()["failures_in_window"] == 1


def test_a_success_forgets_the_failures(clock: FakeClock) -> None:
    breaker = make(clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_one_probe_after_open_s_and_success_closes(clock: FakeClock) -> None:
    changes: list[tuple[str, str]] = []
    breaker = make(clock, changes)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 29.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else still goes to the fallback
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert breaker.snapshot()["opened_for_s"] is None


def test_a_failed_probe_opens_again_for_open_s(clock: FakeClock) -> None:
    changes: list[tuple[str, str]] = []
    breaker = make(clock, changes)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 30
    assert breaker.allow()
    breaker.record_failure("cannot-connect")
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    clock.now += 29
    assert not breaker.allow()
    assert breaker.snapshot()["opened_for_s"] == 29
    clock.now += 1
    assert breaker.allow()
    assert breaker.times_opened == 2
    assert changes[-2:] == [("half_open", "open"), ("open", "half_open")]


def test_failures_while_open_change_nothing(clock: FakeClock) -> None:
    breaker = make(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 20
    breaker.record_failure()  # a request that started before the breaker opened
    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("x", failure_threshold=0)


def test_an_abandoned_probe_frees_the_slot_without_a_failure(clock: FakeClock) -> None:
    """A probe cancelled before Workers AI answered: the next request probes, nothing counted,
    the breaker is not opened again for open_s."""
    changes: list[tuple[str, str]] = []
    breaker = make(clock, changes)
    for _ in range(3):
        breaker.record_failure("timeout")
    clock.now += 30
    assert breaker.allow()  # the probe
    assert not breaker.allow()
    breaker.release()
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.times_opened == 1
    assert breaker.snapshot()["last_failure"] == "timeout"
    assert breaker.allow()  # the next request is the probe
    assert not breaker.allow()  # and only it
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_release_without_a_probe_changes_nothing(clock: FakeClock) -> None:
    breaker = make(clock)
    breaker.record_failure()
    breaker.release()  # a request cancelled while closed
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot()["failures_in_window"] == 1
    breaker.record_failure()
    breaker.record_failure()
    breaker.release()  # while open
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()


async def test_a_reply_abandoned_as_the_probe_releases_it(clock: FakeClock) -> None:
    """The server's text-to-speech probe closed before Workers AI answered (the client left):
    the breaker stays half-open and the next reply probes; a reply that was not the probe
    leaves another request's probe alone."""
    from wyoming_server.server.breakers import TaskFailover  # noqa: PLC0415
    from wyoming_server.server.failover_config import FailoverOptions  # noqa: PLC0415
    from wyoming_server.server.fallback_tts import FailoverReply  # noqa: PLC0415
    from wyoming_server.server.settings import ServerSettings  # noqa: PLC0415
    from wyoming_server.workers_ai import WorkersAIClient, catalog  # noqa: PLC0415

    options = FailoverOptions(tts_uri="tcp://127.0.0.1:1", breaker_failures=1, breaker_open=30)
    # A fallback that is never asked (no sentence is spoken); without one an open breaker
    # refuses the reply outright (test_server_breaker.py).
    failover = TaskFailover(
        "tts", options, models=[], wyoming=[options.tts_uri], metrics=None, clock=clock
    )
    client: WorkersAIClient = None  # type: ignore[assignment]  # not called before a sentence

    async def write(_event: object) -> None:
        return None

    settings = ServerSettings(stt_model=catalog.NOVA_3, tts_voice="aura-2-en-luna", language="en")

    def reply() -> FailoverReply:
        voice = catalog.get_voice(settings.tts_voice)
        return FailoverReply(client, voice, settings, write, streaming=True, failover=failover)

    failover.breaker.record_failure("timeout")
    clock.now += 30
    probe = reply()
    assert not failover.breaker.allow()  # the probe is out
    await probe.aclose()
    assert failover.breaker.state is BreakerState.HALF_OPEN
    assert failover.breaker.times_opened == 1
    second = reply()  # the next probe
    third = reply()  # breaker refuses: goes to the fallback
    await third.aclose()
    assert not failover.breaker.allow()  # the second's probe still out
    await second.aclose()
    assert failover.breaker.allow()
