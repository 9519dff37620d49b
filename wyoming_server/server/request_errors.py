"""Errors of a single Wyoming request, and their Wyoming ``error`` event form.

Every failure a client can cause or meet (bad event, unknown voice, Workers AI error, timeout)
ends as one Wyoming ``error`` event ``{"text", "code"}`` (``wyoming/error.py`` in
https://github.com/OHF-Voice/wyoming).
``code`` is machine-readable: :attr:`WorkersAIError.error_code` for Workers AI failures (e.g.
``authentication-error-10000``), otherwise one of the codes below.
"""

from __future__ import annotations

from dataclasses import dataclass

from wyoming.error import Error

from ..workers_ai.errors import WorkersAIError

# Codes of errors raised by this server itself (not by Workers AI).
MALFORMED_EVENT = "malformed-event"
INVALID_EVENT = "invalid-event"
UNSUPPORTED_AUDIO_FORMAT = "unsupported-audio-format"
UNKNOWN_MODEL = "unknown-model"
UNKNOWN_VOICE = "unknown-voice"
UNSUPPORTED_LANGUAGE = "unsupported-language"
EMPTY_TEXT = "empty-text"
SSML_NOT_SUPPORTED = "ssml-not-supported"
TIMEOUT = "timeout"
UTTERANCE_TRUNCATED = "utterance-truncated"
"""Not a failure: the utterance reached ``--max-audio-seconds`` (or the flux turn limit) and was
transcribed up to there; sent after its ``transcript``."""
SERVICE_UNAVAILABLE = "service-unavailable"
"""Workers AI failed often enough to open the task's circuit breaker and there is no fallback:
the request fails at once, without asking Workers AI (docs/failover.md)."""
INTERNAL_ERROR = "internal-error"


class BadRequestError(Exception):
    """The client asked for something this server cannot do (bad field, unknown voice, ...)."""

    def __init__(self, message: str, code: str = INVALID_EVENT) -> None:
        """``message`` is shown to the user; ``code`` is the Wyoming error code."""
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class Failure:
    """What went wrong, ready to send: user-facing ``text`` and machine ``code``."""

    text: str
    code: str

    def event(self) -> Error:
        """The Wyoming ``error`` event for this failure."""
        return Error(text=self.text, code=self.code)


def describe_failure(err: BaseException) -> Failure:
    """Map an exception to its Wyoming error text and code (never includes credentials)."""
    if isinstance(err, WorkersAIError):
        return Failure(f"Workers AI: {err}", err.error_code)
    if isinstance(err, BadRequestError):
        return Failure(err.message, err.code)
    if isinstance(err, TimeoutError):
        return Failure("Workers AI did not answer in time", TIMEOUT)
    return Failure(f"Internal server error: {type(err).__name__}", INTERNAL_ERROR)
