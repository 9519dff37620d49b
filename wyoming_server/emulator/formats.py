"""Deepgram TTS output settings (``encoding``, ``container``, ``sample_rate``, ``bit_rate``):
defaults and the combinations the emulator accepts.

Rules follow Deepgram's media output settings (https://developers.deepgram.com/docs/tts-websocket,
https://developers.deepgram.com/docs/text-to-speech): mp3 is fixed at 22050 Hz with bit_rate 32000
or 48000; linear16/mulaw/alaw come in a wav container or none; opus in ogg at 48000 Hz; flac and aac
without container. REST defaults to MP3 (the output schema's contract,
https://developers.cloudflare.com/workers-ai/models/aura-1/); the WebSocket to linear16 at 24000 Hz,
no container, and only linear16/mulaw/alaw. Anything else → 400/5006 with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .audio import OutputFormat
from .errors import bad_input


@dataclass(frozen=True)
class _Rule:
    """What one encoding allows: containers (first = default), sample rates (Hz) and bit
    rates (bits/s: a choice, or a (low, high) range when ``bit_rate_range``)."""

    containers: tuple[str, ...]
    rates: tuple[int, ...]
    default_rate: int
    bit_rates: tuple[int, ...] | None = None
    default_bit_rate: int | None = None
    bit_rate_range: bool = False


_REST_RULES: dict[str, _Rule] = {
    "mp3": _Rule(("none",), (22050,), 22050, (32000, 48000), 48000),
    "linear16": _Rule(("wav", "none"), (8000, 16000, 24000, 32000, 48000), 24000),
    "mulaw": _Rule(("wav", "none"), (8000, 16000), 8000),
    "alaw": _Rule(("wav", "none"), (8000, 16000), 8000),
    "flac": _Rule(("none",), (8000, 16000, 22050, 32000, 48000), 48000),
    "opus": _Rule(("ogg",), (48000,), 48000, (4000, 650000), 12000, bit_rate_range=True),
    "aac": _Rule(("none",), (22050,), 22050, (4000, 192000), 48000, bit_rate_range=True),
}
_WS_ENCODINGS = ("linear16", "mulaw", "alaw")
_WS_RATES = (8000, 16000, 24000, 32000, 48000)


def rest_format(payload: dict[str, Any]) -> OutputFormat:
    """The output format of an aura REST request (already schema-valid)."""
    encoding = str(payload.get("encoding", "mp3"))
    rule = _REST_RULES[encoding]
    container = str(payload.get("container", rule.containers[0]))
    if container not in rule.containers:
        raise bad_input(
            f"Error: container '{container}' is not available for encoding '{encoding}' "
            f"(use {' or '.join(rule.containers)})"
        )
    rate = _rate(payload.get("sample_rate"), rule.rates, rule.default_rate, encoding)
    bit_rate = payload.get("bit_rate")
    if bit_rate is None:
        bit_rate = rule.default_bit_rate
    elif rule.bit_rates is None:
        raise bad_input(f"Error: bit_rate is not configurable for encoding '{encoding}'")
    elif rule.bit_rate_range:
        low, high = rule.bit_rates[0], rule.bit_rates[-1]
        if not low <= bit_rate <= high:
            raise bad_input(f"Error: bit_rate for '{encoding}' must be {low}-{high}")
    elif bit_rate not in rule.bit_rates:
        choices = ", ".join(str(b) for b in rule.bit_rates)
        raise bad_input(f"Error: bit_rate for '{encoding}' must be one of {choices}")
    return OutputFormat(encoding, container, rate, int(bit_rate) if bit_rate else None)


def websocket_format(params: dict[str, Any]) -> OutputFormat:
    """The output format of an aura WebSocket (query parameters, already schema-valid)."""
    encoding = str(params.get("encoding", "linear16"))
    if encoding not in _WS_ENCODINGS:
        raise bad_input(
            f"Error: encoding '{encoding}' is not available for streaming "
            "(use linear16, mulaw or alaw)"
        )
    container = str(params.get("container", "none"))
    if container != "none":
        raise bad_input("Error: streaming audio has no container (use container=none)")
    if "bit_rate" in params:
        raise bad_input(f"Error: bit_rate is not configurable for encoding '{encoding}'")
    rate = _rate(params.get("sample_rate"), _WS_RATES, 24000, encoding)
    return OutputFormat(encoding, "none", rate)


def _rate(value: Any, allowed: tuple[int, ...], default: int, encoding: str) -> int:
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if value not in allowed:
        choices = ", ".join(str(r) for r in allowed)
        raise bad_input(f"Error: sample_rate for '{encoding}' must be one of {choices}")
    return int(value)
