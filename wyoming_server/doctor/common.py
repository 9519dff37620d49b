"""What the ``doctor`` probes share: where to call, timing, refusals, transcript checks.

Each probe talks to Workers AI with plain aiohttp (not :class:`WorkersAIClient`), so that it sees
what the client hides: status, ``Content-Type``, ``cf-ai-neurons``, every WebSocket message and
the close code. It sends what the project sends (same body convention, query parameters and
audio format) and compares the answer with what the project expects. The probes:
:mod:`.rest` (one POST per model) and :mod:`.websocket` (nova-3, flux, aura).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from yarl import URL

from ..workers_ai import audio, catalog
from ..workers_ai.errors import AuthenticationError, QuotaExceededError, error_from_envelope
from ..workers_ai.results import parse_neurons
from .report import Check

CALL_TIMEOUT: Final = 20.0
"""Seconds one probe may take in all."""

FRAME_MS: Final = 100
"""WebSocket audio frames, in ms (as the project streams)."""

TTS_SAMPLE_RATE: Final = catalog.AURA_WEBSOCKET_SAMPLE_RATE_HZ
"""Hz asked of aura (REST linear16 and WebSocket), as the Wyoming server does."""

EXPECTED_WORDS: Final = ("living", "room", "light", "turn")
"""Words of the bundled recording; a transcript with none of them is noted."""


class AccountUnusable(Exception):
    """The account cannot be used at all (authentication or daily quota): stop probing."""


@dataclass
class Timing:
    """Connection set-up times seen by the session's trace hooks (ms)."""

    connect_started: float | None = None
    connect_ms: float | None = None

    def reset(self) -> None:
        """Forget the previous call."""
        self.connect_started = None
        self.connect_ms = None


def trace_config(timing: Timing) -> aiohttp.TraceConfig:
    """An aiohttp trace that records the TCP/TLS connection time of each call in ``timing``."""
    config = aiohttp.TraceConfig()

    async def started(*_: Any) -> None:
        timing.connect_started = time.monotonic()

    async def ended(*_: Any) -> None:
        if timing.connect_started is not None:
            timing.connect_ms = (time.monotonic() - timing.connect_started) * 1000

    config.on_connection_create_start.append(started)
    config.on_connection_create_end.append(ended)
    return config


@dataclass
class ProbeContext:
    """Where and how to call: the session (with :func:`trace_config`), URLs, credentials."""

    session: aiohttp.ClientSession
    timing: Timing
    run_url: Callable[[str], URL]
    websocket_url: Callable[[str, Sequence[tuple[str, str]]], URL]
    headers: Mapping[str, str]
    speech_pcm: bytes
    sample_rate: int = catalog.STT_SAMPLE_RATE_HZ
    texts: Mapping[str, str] = field(default_factory=dict)

    def text_for(self, language: str) -> str:
        """The few words spoken in ``language`` (English when none is given)."""
        return self.texts.get(language) or self.texts["en"]


def ms_since(start: float) -> float:
    """Milliseconds since ``start`` (a :func:`time.monotonic` reading)."""
    return (time.monotonic() - start) * 1000


def neurons(headers: Mapping[str, str]) -> float | None:
    """The ``cf-ai-neurons`` header of an answer as a number, if any."""
    return parse_neurons(headers.get("cf-ai-neurons"))


def sniff_container(data: bytes) -> str:
    """Name the audio container from the first bytes (:func:`audio.sniff_container`): wav,
    mp3, flac, ogg; ``json`` for a JSON body, else ``raw``."""
    if container := audio.sniff_container(data):
        return container
    return "json" if data[:1] == b"{" else "raw"


def _error_of(payload: bytes) -> tuple[int | None, str]:
    """``(code, message)`` of a v4 error envelope, or ``(None, start of the body)``."""
    with contextlib.suppress(ValueError, TypeError, KeyError, IndexError, AttributeError):
        error = json.loads(payload)["errors"][0]
        code = error.get("code")
        return (code if isinstance(code, int) else None), str(error.get("message", ""))
    return None, payload[:120].decode("utf-8", "replace").strip()


def refusal(check: Check, status: int, payload: bytes, what: str) -> None:
    """Record a refused call; raise :class:`AccountUnusable` when no other call can succeed."""
    code, message = _error_of(payload)
    check.status = status
    check.error_code = code
    detail = f"HTTP {status}" + (f", code {code}" if code is not None else "")
    check.fail(f"{what} refused ({detail}): {message}"[:200])
    # The client's error table decides (one copy of Cloudflare's codes).
    envelope = {"errors": [{"code": code, "message": message}]}
    error = error_from_envelope(status, envelope)
    if isinstance(error, QuotaExceededError):
        check.note("the daily free allocation of neurons is used up until 00:00 UTC")
    if status in (401, 403) or isinstance(error, AuthenticationError | QuotaExceededError):
        raise AccountUnusable(check.result)


def check_transcript(check: Check, text: str) -> None:
    check.result = f"“{text}”" if text else "(empty transcript)"
    if not text:
        check.deviate("empty transcript for 1.5 s of clear speech")
    elif not any(word in text.lower() for word in EXPECTED_WORDS):
        check.note(f"transcript differs from the recording ({EXPECTED_WORDS[:3]})")


def describe_audio(container: str, size: int) -> str:
    if container == "raw":
        seconds = size / (2 * TTS_SAMPLE_RATE)
        return f"{seconds:.2f} s linear16 at {TTS_SAMPLE_RATE} Hz ({size} bytes)"
    return f"{container.upper()}, {size} bytes"
