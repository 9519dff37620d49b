"""Typed Workers AI errors.

Codes and HTTP statuses follow ``../shared/docs/workers-ai-speech-api.md`` §2.1 (Workers AI
errors page plus codes observed in the wild) and Cloudflare's v4 API envelope (§1.3). Messages
never contain the API token.
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
        return parts[0] if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"


class AuthenticationError(WorkersAIError):
    """The API token is wrong, expired, or lacks Workers AI permission (10000, HTTP 401/403)."""

    default_message = "Authentication error: check the Cloudflare API token"


class AccountNotFoundError(WorkersAIError):
    """The account ID does not route (HTTP 404, code 7003 "Could not route to ..., perhaps your
    object identifier is invalid?"; cloudflare/workers-sdk#2100, anomalyco/opencode#23773).
    """

    default_message = "Unknown Cloudflare account ID"


class PaidPlanRequiredError(WorkersAIError):
    """The model requires a Workers Paid plan (code 5035, HTTP 403; doc §2.1, S-cl-paid)."""

    default_message = "This model requires a Workers Paid plan"


class RequestTooLargeError(WorkersAIError):
    """The request body is too large (code 3006, HTTP 413)."""

    default_message = "Request is too large"


class InvalidInputError(WorkersAIError):
    """The model rejected the input (codes 5006, 3010, 5004, 5007, 3003, 3042; HTTP 400/404)."""

    default_message = "Invalid input for the model"


class RateLimitError(WorkersAIError):
    """Out of capacity or rate limited (code 3040 or HTTP 429 without a quota code): retryable."""

    retryable = True
    default_message = "Capacity temporarily exceeded"


class QuotaExceededError(WorkersAIError):
    """The daily free allocation is used up (code 3036, HTTP 429): not retryable today."""

    default_message = "Daily Workers AI allocation used up"


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
    RequestTooLargeError: "request-too-large",
    InvalidInputError: "invalid-input",
    RateLimitError: "rate-limited",
    QuotaExceededError: "quota-exceeded",
    ServerError: "server-error",
    RequestTimeoutError: "timeout",
    ConnectionFailedError: "cannot-connect",
    ProtocolError: "protocol-error",
    StreamClosedError: "stream-closed",
}

_BY_CODE: dict[int, type[WorkersAIError]] = {
    10000: AuthenticationError,
    7003: AccountNotFoundError,
    5035: PaidPlanRequiredError,
    3006: RequestTooLargeError,
    5006: InvalidInputError,
    3010: InvalidInputError,
    5004: InvalidInputError,
    5007: InvalidInputError,
    3003: InvalidInputError,
    3042: InvalidInputError,
    3040: RateLimitError,
    3036: QuotaExceededError,
    3001: ServerError,
    7009: ServerError,
    3007: RequestTimeoutError,
    3008: RequestTimeoutError,
}


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

    The first error code that maps to a known class wins; otherwise the HTTP status decides.
    """
    errors: Sequence[Any] = []
    if body is not None and isinstance(body.get("errors"), list):
        errors = body["errors"]
    messages = [str(e.get("message", "")) for e in errors if isinstance(e, Mapping)]
    codes = [_int_code(e.get("code")) for e in errors if isinstance(e, Mapping)]
    message = "; ".join(m for m in messages if m) or None
    first_code = next((c for c in codes if c is not None), None)
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
