"""Which Workers AI failures send a request to the fallback, and which open the breaker.

The errors are built from Cloudflare's envelopes the way the client builds them, so a change
in the error mapping shows here too.
"""

from __future__ import annotations

import asyncio

import pytest

from wyoming_server.workers_ai.errors import (
    ConnectionFailedError,
    FlushLimitError,
    RequestTimeoutError,
    StreamClosedError,
    error_from_envelope,
)
from wyoming_server.workers_ai.failover import breaker_counts, is_failover_trigger


def envelope(status: int, code: int, message: str = "x") -> BaseException:
    return error_from_envelope(
        status, {"success": False, "errors": [{"code": code, "message": message}]}
    )


DOWN_FOR_US = [
    envelope(429, 4006, "you have used up your daily free allocation of 10,000 neurons"),
    envelope(429, 3036),
    envelope(429, 3040, "Capacity temporarily exceeded"),
    envelope(500, 3001),
    envelope(502, 7009),
    envelope(403, 3023, "Service unavailable for account"),
    envelope(403, 5018),
    envelope(403, 5035, "This model requires a Workers Paid plan"),
    envelope(401, 10000, "Authentication error"),
    envelope(400, 7000, "No such model"),
    ConnectionFailedError(),
    RequestTimeoutError(),
    TimeoutError(),
    StreamClosedError(),
]

ONE_REQUEST_ONLY = [
    envelope(413, 3006, "Request is too large"),
    envelope(404, 8002, "Invalid input"),
    FlushLimitError(),
]

NEVER = [
    envelope(400, 8007, "empty text"),
    envelope(400, 5006, "Input validation error"),
    asyncio.CancelledError(),
    ValueError("a bug of ours"),
]


@pytest.mark.parametrize("err", DOWN_FOR_US, ids=repr)
def test_unavailable_fails_over_and_counts(err: BaseException) -> None:
    assert is_failover_trigger(err)
    assert breaker_counts(err)


@pytest.mark.parametrize("err", ONE_REQUEST_ONLY, ids=repr)
def test_request_limits_fail_over_without_opening_the_breaker(err: BaseException) -> None:
    assert is_failover_trigger(err)
    assert not breaker_counts(err)


@pytest.mark.parametrize("err", NEVER, ids=repr)
def test_faults_of_the_request_itself_do_not_fail_over(err: BaseException) -> None:
    assert not is_failover_trigger(err)
    assert not breaker_counts(err)
