"""Which Workers AI failures another speech engine can answer, and which say "down for us".

A voice assistant with a fallback (another Wyoming server, another Workers AI model, another
Home Assistant entity) should use it whenever the fallback can plausibly answer what Workers AI
did not, and should stop asking Workers AI (open the :mod:`.breaker`) when the failure says
Workers AI is unavailable to this account for a while. Error codes:
https://developers.cloudflare.com/workers-ai/platform/errors/ ; limits and the daily free
allocation: https://developers.cloudflare.com/workers-ai/platform/limits/ and
https://developers.cloudflare.com/workers-ai/platform/pricing/
"""

from __future__ import annotations

import asyncio

from .errors import (
    AccountNotAllowedError,
    AccountNotFoundError,
    AuthenticationError,
    ConnectionFailedError,
    FlushLimitError,
    InvalidInputError,
    PaidPlanRequiredError,
    ProtocolError,
    QuotaExceededError,
    RateLimitError,
    RequestTimeoutError,
    RequestTooLargeError,
    ServerError,
    StreamClosedError,
    WorkersAIError,
)

MODEL_REFUSALS = frozenset({7000, 8002})
"""Invalid-input codes that refuse the model or its language, not the request's content:
7000 (no such model: retired or misspelt), 8002 (MeloTTS asked for a language it lacks)."""

_UNAVAILABLE: tuple[type[WorkersAIError], ...] = (
    ConnectionFailedError,
    RequestTimeoutError,
    ServerError,
    RateLimitError,
    QuotaExceededError,
    AccountNotAllowedError,
    PaidPlanRequiredError,
    AuthenticationError,
    AccountNotFoundError,
    ProtocolError,
    StreamClosedError,
)


def breaker_counts(err: BaseException) -> bool:
    """Whether ``err`` says Workers AI is unavailable to us (counts toward opening a breaker).

    True: cannot connect, no answer within the budget (also a bare ``TimeoutError``), 5xx,
    3040/3021 after the retries, the daily allocation spent (4006/3036), an account refusal
    (3023, 5018, 3041, 5016, 5035), a rejected token (10000, 7003), a broken answer or stream,
    an unknown model (7000). False for faults of one request (too large, flush limit, other
    invalid input) and for cancellation.
    """
    if isinstance(err, asyncio.CancelledError):
        return False
    if isinstance(err, TimeoutError):
        return True
    if isinstance(err, InvalidInputError):
        return err.code == 7000
    return isinstance(err, _UNAVAILABLE)


def is_failover_trigger(err: BaseException) -> bool:
    """Whether a fallback engine should answer the request ``err`` ended.

    Everything :func:`breaker_counts` counts, plus what is specific to Workers AI's limits for
    one request: 3006 (too large for one upload), the aura flush limit, 8002 (MeloTTS lacks the
    language). False for faults any engine would refuse (empty text 8007, other invalid input),
    for a cancelled request and for errors that are not Workers AI's.
    """
    if breaker_counts(err):
        return True
    if isinstance(err, InvalidInputError):
        return err.code in MODEL_REFUSALS
    return isinstance(err, RequestTooLargeError | FlushLimitError)
