"""Speech-to-text of one utterance: ``audio-start`` … ``audio-stop`` → transcript events.

Two ways to reach Workers AI:

- :class:`~.stt_streaming.StreamingUtterance` (nova-3, flux): the WebSocket carries the audio
  while the user speaks; flux may end the utterance itself at ``EndOfTurn``.
- :class:`~.utterance.BufferedUtterance` (Whisper models, or nova-3 with streaming off): audio is
  collected and uploaded once at ``audio-stop``.

Every failure ends in a Wyoming ``error`` and then the partial or empty ``transcript``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..workers_ai import WorkersAIClient, catalog
from .request_errors import UNKNOWN_MODEL, BadRequestError
from .settings import ServerSettings
from .stt_streaming import StreamingUtterance
from .transcripts import WriteEvent
from .utterance import BufferedUtterance, Utterance, UtteranceRequest

if TYPE_CHECKING:
    from .breakers import TaskFailover

__all__ = [
    "BufferedUtterance",
    "StreamingUtterance",
    "Utterance",
    "UtteranceRequest",
    "create_utterance",
    "resolve_asr_model",
]


def resolve_asr_model(name: str | None, default: str) -> catalog.SpeechModel:
    """The ASR model for a ``transcribe`` ``name`` (full ID or short name; ``None`` = default).

    Raises:
        BadRequestError: code ``unknown-model`` when ``name`` is not a Workers AI ASR model.
    """
    if name is None:
        return catalog.get_model(default)
    try:
        model = catalog.get_model(name)
    except KeyError:
        model = None
    if model is None or model.task is not catalog.Task.ASR:
        known = ", ".join(m.model_id for m in catalog.ASR_MODELS)
        raise BadRequestError(f"Unknown speech-to-text model '{name}' (use {known})", UNKNOWN_MODEL)
    return model


def create_utterance(
    client: WorkersAIClient,
    request: UtteranceRequest,
    settings: ServerSettings,
    write: WriteEvent,
    failover: TaskFailover | None = None,
) -> Utterance:
    """The utterance handler for ``request.model``: streaming for flux (always) and nova-3
    (unless ``settings.stt_streaming`` is off), buffered REST otherwise; wrapped in a
    :class:`~.fallback_stt.FailoverUtterance` that reports to the task's breaker (while it is
    open: the fallback without Workers AI).

    Raises:
        BadRequestError: ``service-unavailable``, the breaker is open and there is no fallback.
    """
    if failover is not None:
        from .fallback_stt import FailoverUtterance  # noqa: PLC0415 - imports this module

        allowed = failover.breaker.allow()
        if not allowed and not failover.has_fallback:
            raise failover.unavailable()
        primary = create_utterance(client, request, settings, write) if allowed else None
        return FailoverUtterance(primary, client, request, settings, write, failover=failover)
    model = request.model
    if not model.rest or (model.websocket and settings.stt_streaming):
        return StreamingUtterance(client, request, settings, write)
    return BufferedUtterance(client, request, settings, write)
