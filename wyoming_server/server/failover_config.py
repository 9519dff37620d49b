"""Failover settings: the fallback engines and the circuit breakers' tuning (command line).

A fallback is another Wyoming server (``--fallback-stt`` / ``--fallback-tts``: e.g.
https://github.com/rhasspy/wyoming-faster-whisper, https://github.com/rhasspy/wyoming-piper,
https://github.com/OHF-Voice/speech-to-phrase) and/or another Workers AI model
(``--fallback-stt-model``, ``--fallback-tts-voice``). The breaker follows
https://martinfowler.com/bliki/CircuitBreaker.html (see ``workers_ai/breaker.py``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from urllib.parse import urlparse

from ..workers_ai import catalog
from .limits import _positive_float, _positive_int

DEFAULT_FALLBACK_TIMEOUT = 5.0
"""Seconds a fallback gets for one request (connect, replay, answer; TTS: per sentence)."""


@dataclass(frozen=True, slots=True)
class FailoverOptions:
    """What to do when Workers AI cannot answer (every field off by default)."""

    stt_uri: str | None = None
    """Wyoming speech-to-text server to replay the utterance to (``tcp://host:port``)."""
    stt_model: str | None = None
    """Workers AI REST speech-to-text model to replay the utterance to (full model ID)."""
    tts_uri: str | None = None
    """Wyoming text-to-speech server that speaks the rest of a reply."""
    tts_voice: str | None = None
    """Workers AI voice (catalog name) that speaks the rest of a reply."""
    timeout: float = DEFAULT_FALLBACK_TIMEOUT
    """Seconds per fallback request (STT: the whole replay; TTS: up to each audio event)."""
    breaker_failures: int = 3
    """Workers AI failures within ``breaker_window`` that open a task's breaker."""
    breaker_window: float = 60.0
    """Seconds a failure counts for."""
    breaker_open: float = 30.0
    """Seconds an open breaker sends every request straight to the fallback (without one: fails
    it at once, ``service-unavailable``) before one probe."""

    @property
    def stt_enabled(self) -> bool:
        """Whether speech to text has a fallback."""
        return bool(self.stt_uri or self.stt_model)

    @property
    def tts_enabled(self) -> bool:
        """Whether text to speech has a fallback."""
        return bool(self.tts_uri or self.tts_voice)


def wyoming_uri(text: str) -> str:
    """A Wyoming client URI: ``tcp://host:port`` or ``unix:///path``.

    Raises:
        argparse.ArgumentTypeError: another scheme, or tcp without host or port.
    """
    parsed = urlparse(text)
    if parsed.scheme == "tcp":
        try:
            port = parsed.port
        except ValueError:
            port = None
        if not parsed.hostname or port is None:
            raise argparse.ArgumentTypeError(f"expected tcp://HOST:PORT, got {text}")
        return text
    if parsed.scheme == "unix" and parsed.path:
        return text
    raise argparse.ArgumentTypeError(f"expected tcp://HOST:PORT or unix:///PATH, got {text}")


def add_failover_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``failover`` argument group."""
    group = parser.add_argument_group(
        "failover (when Workers AI cannot answer; see docs/failover.md)"
    )
    group.add_argument(
        "--fallback-stt",
        type=wyoming_uri,
        metavar="URI",
        help="Wyoming speech-to-text server that transcribes the utterance when Workers AI "
        "cannot, e.g. tcp://127.0.0.1:10300 (wyoming-faster-whisper)",
    )
    group.add_argument(
        "--fallback-stt-model",
        metavar="MODEL",
        help="Workers AI REST model to try first for the same utterance, e.g. "
        "whisper-large-v3-turbo (skipped when the whole account is unreachable)",
    )
    group.add_argument(
        "--fallback-tts",
        type=wyoming_uri,
        metavar="URI",
        help="Wyoming text-to-speech server that speaks the rest of a reply when Workers AI "
        "cannot, e.g. tcp://127.0.0.1:10200 (wyoming-piper)",
    )
    group.add_argument(
        "--fallback-tts-voice",
        metavar="VOICE",
        help="Workers AI voice to try first for the rest of a reply, e.g. melotts-en",
    )
    group.add_argument(
        "--fallback-timeout",
        type=_positive_float,
        default=DEFAULT_FALLBACK_TIMEOUT,
        help="Seconds a fallback gets per request (STT: the whole replay; TTS: up to each "
        "audio event) (default %(default)s)",
    )
    group.add_argument(
        "--breaker-failures",
        type=_positive_int,
        default=3,
        help="Workers AI failures within --breaker-window that send requests straight to the "
        "fallback, or without one fail them at once (default %(default)s)",
    )
    group.add_argument(
        "--breaker-window",
        type=_positive_float,
        default=60.0,
        help="Seconds a Workers AI failure counts for (default %(default)s)",
    )
    group.add_argument(
        "--breaker-open",
        type=_positive_float,
        default=30.0,
        help="Seconds requests go straight to the fallback (without one: fail at once) before "
        "one probes Workers AI again (default %(default)s)",
    )


def failover_from_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace, *, stt_model: str, tts_voice: str
) -> FailoverOptions:
    """Validate the fallback model and voice; exits through ``parser.error`` when invalid.

    ``stt_model`` / ``tts_voice`` are the server's defaults (a fallback must differ from them).
    """
    model_id = None
    if args.fallback_stt_model is not None:
        try:
            model = catalog.get_model(args.fallback_stt_model)
        except KeyError:
            model = None
        if model is None or model.task is not catalog.Task.ASR or not model.rest:
            rest = ", ".join(m.short_name for m in catalog.ASR_MODELS if m.rest)
            parser.error(
                f"--fallback-stt-model: {args.fallback_stt_model!r} is not a Workers AI REST "
                f"speech-to-text model (use one of {rest})"
            )
        if model.model_id == stt_model:
            parser.error("--fallback-stt-model: the fallback must differ from --stt-model")
        model_id = model.model_id
    if args.fallback_tts_voice is not None:
        try:
            catalog.get_voice(args.fallback_tts_voice)
        except KeyError:
            parser.error(
                f"--fallback-tts-voice: unknown voice {args.fallback_tts_voice!r} (see 'describe')"
            )
        if args.fallback_tts_voice == tts_voice:
            parser.error("--fallback-tts-voice: the fallback must differ from --tts-voice")
    return FailoverOptions(
        stt_uri=args.fallback_stt,
        stt_model=model_id,
        tts_uri=args.fallback_tts,
        tts_voice=args.fallback_tts_voice,
        timeout=args.fallback_timeout,
        breaker_failures=args.breaker_failures,
        breaker_window=args.breaker_window,
        breaker_open=args.breaker_open,
    )
