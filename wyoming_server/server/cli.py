"""Command line of ``wyoming-workers-ai``, following Wyoming server conventions.

Flags as in https://github.com/rhasspy/wyoming-faster-whisper and
https://github.com/rhasspy/wyoming-piper (their ``__main__.py``): ``--uri``,
``--zeroconf [NAME]``, ``--debug``, ``--log-format``, ``--version``. Credentials are NOT flags:
see :mod:`wyoming_server.credentials`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from .. import __version__
from ..workers_ai import DEFAULT_API_BASE_URL, catalog
from .failover_config import add_failover_arguments, failover_from_args
from .languages import check_language, normalize
from .limits import add_limit_arguments, limits_from_args
from .request_errors import BadRequestError
from .settings import FluxOptions, ServerSettings

DEFAULT_URI = "tcp://0.0.0.0:10300"
DEFAULT_VOICE_CONNECT_TIMEOUT = 3.0
DEFAULT_VOICE_REQUEST_TIMEOUT = 8.0
DEFAULT_VOICE_DEADLINE = 10.0
DEFAULT_ZEROCONF_NAME = "workers-ai"


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _threshold(low: float, high: float) -> type[float]:
    def parse(text: str) -> float:
        value = float(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {text}")
        return value

    return parse  # type: ignore[return-value]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``--help`` documents every flag)."""
    parser = argparse.ArgumentParser(
        prog="wyoming-workers-ai",
        description="Wyoming speech-to-text and text-to-speech server for Cloudflare Workers AI. "
        "Credentials: CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN (or --api-token-file); "
        "without them the embedded Workers AI emulator is used.",
    )
    parser.add_argument("--uri", default=DEFAULT_URI, help="unix://, tcp:// or stdio://")
    parser.add_argument(
        "--zeroconf",
        nargs="?",
        const=DEFAULT_ZEROCONF_NAME,
        metavar="NAME",
        help=f"Announce over zeroconf for Home Assistant (default name {DEFAULT_ZEROCONF_NAME})",
    )
    parser.add_argument(
        "--zeroconf-host",
        metavar="IP",
        help="IPv4 address to announce (default: the bind address, or autodetected for 0.0.0.0)",
    )
    parser.add_argument(
        "--stt-model",
        default=catalog.NOVA_3,
        help="Default speech-to-text model (HA never chooses one), e.g. nova-3, flux, "
        "whisper-large-v3-turbo (default %(default)s)",
    )
    parser.add_argument(
        "--tts-voice",
        default="aura-2-en-luna",
        help="Default voice, as listed by 'describe' (default %(default)s)",
    )
    parser.add_argument(
        "--language", default="en", help="Default speech-to-text language (default %(default)s)"
    )
    parser.add_argument(
        "--keyterm",
        action="append",
        default=[],
        metavar="TERM",
        help="Key term to boost in nova-3 and flux transcripts (repeatable)",
    )
    _add_extras_arguments(parser)
    flux = parser.add_argument_group("flux end of turn (Deepgram listen v2)")
    flux.add_argument(
        "--flux-eot-threshold",
        type=_threshold(0.5, 0.9),
        help="End-of-turn confidence that ends a turn, 0.5-0.9 (Workers AI default 0.7)",
    )
    flux.add_argument(
        "--flux-eager-eot-threshold",
        type=_threshold(0.3, 0.9),
        help="Confidence for an early EagerEndOfTurn, 0.3-0.9 (default off)",
    )
    flux.add_argument(
        "--flux-eot-timeout-ms",
        type=_positive_int,
        help="Milliseconds after speech that end a turn regardless of confidence (default 5000)",
    )
    parser.add_argument(
        "--max-utterance-seconds",
        type=_positive_float,
        default=15.0,
        help="Seconds of audio after which a flux turn is finished as if audio-stop had come; "
        "flux is the model that ends turns itself, so the client may not (default %(default)s)",
    )
    parser.add_argument(
        "--no-stt-streaming",
        action="store_true",
        help="Use nova-3 over REST (one upload per utterance) instead of its WebSocket",
    )
    parser.add_argument(
        "--no-tts-streaming",
        action="store_true",
        help="Use aura over REST (one request per sentence) instead of its WebSocket",
    )
    parser.add_argument(
        "--no-spare-websockets",
        action="store_true",
        help="Do not open an aura WebSocket ahead of the reply that will need it (saves idle "
        "connections; costs about three network round trips on the first audio)",
    )
    parser.add_argument(
        "--samples-per-chunk",
        type=_positive_int,
        default=1024,
        help="Samples per outgoing audio-chunk (default %(default)s)",
    )
    api = parser.add_argument_group("Workers AI")
    api.add_argument(
        "--api-base-url",
        default=DEFAULT_API_BASE_URL,
        help="Cloudflare v4 API root, or an AI Gateway .../workers-ai URL (default %(default)s)",
    )
    api.add_argument("--account-id", help="Cloudflare account ID (default: $CLOUDFLARE_ACCOUNT_ID)")
    api.add_argument(
        "--api-token-file",
        type=Path,
        metavar="PATH",
        help="File holding the API token (default: $CLOUDFLARE_API_TOKEN)",
    )
    api.add_argument(
        "--gateway-token-file",
        type=Path,
        metavar="PATH",
        help="File holding the AI Gateway token, sent as cf-aig-authorization to an "
        "authenticated gateway (default: $CLOUDFLARE_AI_GATEWAY_TOKEN)",
    )
    budgets = parser.add_argument_group(
        "time budgets (voice: fast or fail fast; see docs/troubleshooting.md)"
    )
    budgets.add_argument(
        "--connect-timeout",
        type=_positive_float,
        default=DEFAULT_VOICE_CONNECT_TIMEOUT,
        help="Seconds to connect to Workers AI or open a WebSocket (default %(default)s)",
    )
    budgets.add_argument(
        "--request-timeout",
        type=_positive_float,
        default=DEFAULT_VOICE_REQUEST_TIMEOUT,
        help="Seconds one request attempt, or a silent WebSocket, may take (default %(default)s)",
    )
    budgets.add_argument(
        "--request-deadline",
        type=_positive_float,
        default=DEFAULT_VOICE_DEADLINE,
        help="Seconds a request may take including retries: from audio-stop to the transcript, "
        "from the text to the first audio (default %(default)s)",
    )
    add_limit_arguments(parser)
    add_failover_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="Log DEBUG messages")
    parser.add_argument(
        "--log-format", default=logging.BASIC_FORMAT, help="Format for log messages"
    )
    parser.add_argument("--version", action="version", version=__version__)
    return parser


def _add_extras_arguments(parser: argparse.ArgumentParser) -> None:
    """Vocabulary, Home Assistant names and metrics (see extras.py)."""
    parser.add_argument(
        "--keyterms-file",
        type=Path,
        metavar="PATH",
        help="File of key terms, one per line ('#' comments); re-read when it changes",
    )
    hass = parser.add_argument_group("Home Assistant names (vocabulary)")
    hass.add_argument(
        "--hass-url",
        metavar="URL",
        help="Home Assistant to read exposed entity, area and floor names from, e.g. "
        "http://homeassistant.local:8123 (as an add-on: automatic)",
    )
    hass.add_argument(
        "--hass-token-file",
        type=Path,
        metavar="PATH",
        help="File holding a Home Assistant long-lived access token",
    )
    hass.add_argument(
        "--hass-refresh-seconds",
        type=_positive_float,
        default=300.0,
        help="Re-read the names this often; registry changes apply at once (default %(default)s)",
    )
    metrics = parser.add_argument_group("metrics")
    metrics.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (needs prometheus-client)",
    )
    metrics.add_argument(
        "--metrics-host",
        metavar="HOST",
        help="Address for --metrics-port (default: all interfaces)",
    )


def settings_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> ServerSettings:
    """Validate model, voice and language; exits through ``parser.error`` when invalid."""
    try:
        model = catalog.get_model(args.stt_model)
    except KeyError:
        model = None
    if model is None or model.task is not catalog.Task.ASR:
        parser.error(
            f"--stt-model: unknown speech-to-text model {args.stt_model!r} "
            f"(use one of {', '.join(m.short_name for m in catalog.ASR_MODELS)})"
        )
    try:
        catalog.get_voice(args.tts_voice)
    except KeyError:
        parser.error(f"--tts-voice: unknown voice {args.tts_voice!r} (see 'describe')")
    try:
        check_language(model, args.language)
    except BadRequestError as err:
        parser.error(f"--language: {err.message}")
    return ServerSettings(
        stt_model=model.model_id,
        tts_voice=args.tts_voice,
        language=normalize(args.language),
        keyterms=tuple(term for term in args.keyterm if term),
        flux=FluxOptions(
            eot_threshold=args.flux_eot_threshold,
            eager_eot_threshold=args.flux_eager_eot_threshold,
            eot_timeout_ms=args.flux_eot_timeout_ms,
        ),
        samples_per_chunk=args.samples_per_chunk,
        stream_timeout=min(args.request_timeout, args.request_deadline),
        request_deadline=args.request_deadline,
        max_utterance_seconds=args.max_utterance_seconds,
        stt_streaming=not args.no_stt_streaming,
        tts_streaming=not args.no_tts_streaming,
        spare_websockets=not args.no_spare_websockets,
        limits=limits_from_args(args),
        failover=failover_from_args(
            parser, args, stt_model=model.model_id, tts_voice=args.tts_voice
        ),
    )


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, ServerSettings]:
    """Parse ``argv`` (default ``sys.argv[1:]``) into the raw namespace and the settings."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return args, settings_from_args(parser, args)
