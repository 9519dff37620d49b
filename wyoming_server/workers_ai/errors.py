"""Typed Workers AI errors.

Codes and HTTP statuses follow the Workers AI errors page
(https://developers.cloudflare.com/workers-ai/platform/errors/), codes observed in the wild
(10000 authentication, 4006/3036 daily free allocation, 3021 rate limit, 7000 unknown model,
8002/8007 invalid input) and Cloudflare's v4 API envelope
(https://developers.cloudflare.com/api/). Messages never contain the API token. An error whose
cause the user must fix says what to do (:attr:`WorkersAIError.advice`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class WorkersAIError(Exception):
    """Base class: a Workers AI call failed.

    Attributes:
        status: HTTP status of the response, if there was one.
        code: the first Cloudflare error ``code`` of the envelope, if any (an int, e.g. 10000).
        retryable: whether the same request may succeed when sent again.
        retry_after: seconds the server asked us to wait (``Retry-After``), if it did.
    """

    retryable: bool = False
    default_message = "Workers AI request failed"
    advice = ""
    """What the user can do about it, appended to the message (empty: nothing to add)."""

    def __init__(
        self, message: str | None = None, *, status: int | None = None, code: int | None = None
    ) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.status = status
        self.code = code
        self.retry_after: float | None = None

    @property
    def error_code(self) -> str:
        """A short machine-readable name, used as the Wyoming ``error`` event ``code``."""
        suffix = f"-{self.code}" if self.code is not None else ""
        return f"{_SNAKE.get(type(self), 'workers-ai-error')}{suffix}"

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.append(f"code {self.code}")
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        text = parts[0] if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"
        return f"{text}: {self.advice}" if self.advice else text


class AuthenticationError(WorkersAIError):
    """The API token is wrong, expired, or lacks Workers AI permission, or the account ID is
    wrong (10000, HTTP 401/403). Workers AI answers a wrong account ID with the same 401/10000
    as a wrong token, so the two cannot be told apart at run time."""

    default_message = "Authentication error"
    advice = "check the Cloudflare account ID and the API token (it needs Workers AI Read and Edit)"


class AccountNotFoundError(WorkersAIError):
    """The account ID does not route (HTTP 404, code 7003 "Could not route to ..., perhaps your
    object identifier is invalid?"; cloudflare/workers-sdk#2100, anomalyco/opencode#23773).
    """

    default_message = "Unknown Cloudflare account ID"


class PaidPlanRequiredError(WorkersAIError):
    """The model requires a Workers Paid plan (code 5035, HTTP 403; over REST and on a refused
    WebSocket handshake). Not an authentication problem: the token and account are fine.
    https://developers.cloudflare.com/changelog/ (2026-07-28, models that require Workers Paid)
    """

    default_message = "This model requires a Workers Paid plan"
    advice = "upgrade the account to the Workers Paid plan, or choose another model"


class AccountNotAllowedError(WorkersAIError):
    """Cloudflare refuses the account, or this model to the account (HTTP 403: code 3023
    "Service unavailable for account", 5018/3041 "The account is not allowed to access this
    model", 5016 model terms not agreed). A new API token does not change it, so it is not an
    authentication error (no re-authentication in Home Assistant), and never retried.
    https://developers.cloudflare.com/workers-ai/platform/errors/
    """

    default_message = "Cloudflare does not allow this account to use this model"
    advice = "check the account in the Cloudflare dashboard (Workers AI), or choose another model"


class RequestTooLargeError(WorkersAIError):
    """The request body is too large (code 3006, HTTP 413)."""

    default_message = "Request is too large"


class InvalidInputError(WorkersAIError):
    """The model rejected the input (codes 5006, 3010, 5004, 5007, 3003, 3042; HTTP 400/404)."""

    default_message = "Invalid input for the model"


class RateLimitError(WorkersAIError):
    """Out of capacity or rate limited (codes 3040, 3021, or HTTP 429 without a quota code):
    retryable, after ``Retry-After`` when given."""

    retryable = True
    default_message = "Capacity temporarily exceeded"


class QuotaExceededError(WorkersAIError):
    """The daily free allocation of 10,000 neurons is used up (HTTP 429, code 4006 or 3036, or
    the text "daily free allocation"): every call fails until 00:00 UTC. Never retried, no
    fallback to another transport. https://developers.cloudflare.com/workers-ai/platform/pricing/
    """

    default_message = "The daily free Workers AI allocation (10,000 neurons) is used up"
    advice = (
        "it resets at 00:00 UTC; to continue before then, upgrade the Cloudflare account to the "
        "Workers Paid plan"
    )

    def __str__(self) -> str:
        # Cloudflare's own text ("please upgrade ... if you would like to continue usage")
        # does not say when it resets; ours does.
        parts = [f"code {self.code}"] if self.code is not None else []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        suffix = f" ({', '.join(parts)})" if parts else ""
        return f"{self.default_message}{suffix}: {self.advice}"


class ServerError(WorkersAIError):
    """Cloudflare or the model failed (HTTP 5xx, codes 3001, 7009): retryable."""

    retryable = True
    default_message = "Workers AI server error"


class RequestTimeoutError(WorkersAIError):
    """No answer in time: our own timeout, or Cloudflare's 408 (codes 3007, 3008). Retryable."""

    retryable = True
    default_message = "Workers AI request timed out"


class ConnectionFailedError(WorkersAIError):
    """The network failed before an answer (DNS, TCP, TLS, reset). Retryable."""

    retryable = True
    default_message = "Cannot connect to Workers AI"


class ProtocolError(WorkersAIError):
    """The answer did not have the documented shape (bad JSON, missing fields, bad audio)."""

    default_message = "Unexpected response from Workers AI"


class FlushLimitError(WorkersAIError):
    """An aura WebSocket reached Deepgram's limit of 20 ``Flush`` per 60 s: the flush was not
    sent, or the model refused it with a ``Warning``
    (https://developers.deepgram.com/docs/tts-ws-flush). Synthesize that text over REST."""

    default_message = "Too many flushes on the text-to-speech WebSocket"


class StreamClosedError(WorkersAIError):
    """A WebSocket session ended before it delivered what was asked for.

    ``partial_text`` holds what an ASR session had transcribed before the drop (may be empty).
    Retrying is safe only before any audio was sent, so this is not marked retryable.
    """

    default_message = "Workers AI WebSocket closed unexpectedly"

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        code: int | None = None,
        partial_text: str = "",
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.partial_text = partial_text


_SNAKE: dict[type[WorkersAIError], str] = {
    WorkersAIError: "workers-ai-error",
    AuthenticationError: "authentication-error",
    AccountNotFoundError: "account-not-found",
    PaidPlanRequiredError: "paid-plan-required",
    AccountNotAllowedError: "account-not-allowed",
    RequestTooLargeError: "request-too-large",
    InvalidInputError: "invalid-input",
    RateLimitError: "rate-limited",
    QuotaExceededError: "quota-exceeded",
    ServerError: "server-error",
    RequestTimeoutError: "timeout",
    ConnectionFailedError: "cannot-connect",
    ProtocolError: "protocol-error",
    StreamClosedError: "stream-closed",
    FlushLimitError: "flush-limit",
}

_BY_CODE: dict[int, type[WorkersAIError]] = {
    10000: AuthenticationError,
    7003: AccountNotFoundError,
    5035: PaidPlanRequiredError,
    3023: AccountNotAllowedError,
    5018: AccountNotAllowedError,
    3041: AccountNotAllowedError,
    5016: AccountNotAllowedError,
    3006: RequestTooLargeError,
    7000: InvalidInputError,
    8002: InvalidInputError,
    8007: InvalidInputError,
    5006: InvalidInputError,
    3010: InvalidInputError,
    5004: InvalidInputError,
    5007: InvalidInputError,
    3003: InvalidInputError,
    3042: InvalidInputError,
    3040: RateLimitError,
    3021: RateLimitError,
    3036: QuotaExceededError,
    4006: QuotaExceededError,
    3001: ServerError,
    7009: ServerError,
    3007: RequestTimeoutError,
    3008: RequestTimeoutError,
}


QUOTA_TEXT = "daily free allocation"
"""Text of Cloudflare's quota errors: "you have used up your daily free allocation of 10,000
neurons, please upgrade to Cloudflare's Workers Paid plan ..." (seen with 4006 and 3036)."""


def _int_code(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def error_from_envelope(status: int, body: Mapping[str, Any] | None) -> WorkersAIError:
    """Build the typed error for a failed response.

    Args:
        status: the HTTP status (may be 200 when the envelope says ``success: false``).
        body: the parsed v4 envelope ``{"success": false, "errors": [{"code", "message"}]}``,
            or ``None`` when the body was not JSON.

    The daily free allocation text wins (whatever code carries it); then the first error code
    that maps to a known class; otherwise the HTTP status decides.
    """
    errors: Sequence[Any] = []
    if body is not None and isinstance(body.get("errors"), list):
        errors = body["errors"]
    messages = [str(e.get("message", "")) for e in errors if isinstance(e, Mapping)]
    codes = [_int_code(e.get("code")) for e in errors if isinstance(e, Mapping)]
    message = "; ".join(m for m in messages if m) or None
    first_code = next((c for c in codes if c is not None), None)
    if any(QUOTA_TEXT in m.lower() for m in messages):
        return QuotaExceededError(message, status=status, code=first_code)
    for code in codes:
        if code is not None and code in _BY_CODE:
            return _BY_CODE[code](message, status=status, code=code)
    cls: type[WorkersAIError]
    if status in (401, 403):
        cls = AuthenticationError
    elif status == 404:
        cls = InvalidInputError
    elif status == 408:
        cls = RequestTimeoutError
    elif status == 413:
        cls = RequestTooLargeError
    elif status == 429:
        cls = RateLimitError
    elif status >= 500:
        cls = ServerError
    elif status >= 400:
        cls = InvalidInputError
    else:
        cls = ProtocolError
    return cls(message, status=status, code=first_code)
