"""Usage metering: neurons, audio seconds and characters per model and transport, per UTC day.

Every Workers AI answer carries ``cf-ai-neurons``, the neurons the call cost
(https://developers.cloudflare.com/workers-ai/platform/pricing/ — billing is in neurons). When it
is missing (WebSocket sessions, whose handshake comes before any cost is known, or a proxy that
drops it) the cost is estimated from the list price per audio minute or per 1,000 characters
(same page, "Audio model pricing") and marked ``estimated``.

The free allocation is 10,000 neurons a day, reset at 00:00 UTC; beyond it (Workers Paid) a
neuron costs $0.011 per 1,000 (same page). :class:`UsageMeter` keeps today's totals, starts a
new day at 00:00 UTC and tells listeners about every record and every finished day.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import wave
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Final

from . import catalog
from .catalog import MELOTTS, MODELS, WHISPER_TINY_EN

_LOGGER = logging.getLogger(__name__)

NEURONS_HEADER: Final = "cf-ai-neurons"
DAILY_FREE_NEURONS: Final = 10_000
USD_PER_1000_NEURONS: Final = catalog.USD_PER_1000_NEURONS
MELOTTS_CHARACTERS_PER_SECOND: Final = 14.0
"""Speaking rate assumed to estimate MeloTTS output minutes from text, for its per-minute price
(usage meter and doctor alike): about 150 words a minute, a common conversational rate; no
Cloudflare or MeloTTS figure is published, so this stays an assumption."""


class Transport(StrEnum):
    """How a call reached Workers AI (nova-3 costs more over the WebSocket)."""

    REST = "rest"
    WEBSOCKET = "websocket"


@dataclass(frozen=True, slots=True)
class Rate:
    """Neurons per unit: per audio minute, or per 1,000 characters of input text."""

    neurons: float
    per_characters: bool = False


WHISPER_TINY_EN_NEURONS_PER_MINUTE: Final = 0.604
"""whisper-tiny-en is not on the price list (beta): about 0.6 neurons per audio minute has been
measured by users."""


def _rates() -> dict[tuple[str, Transport], Rate]:
    """Neurons per unit for each model and transport, from the catalog's list prices."""
    rates = {(WHISPER_TINY_EN, Transport.REST): Rate(WHISPER_TINY_EN_NEURONS_PER_MINUTE)}
    for model in MODELS.values():
        if model.price is None:
            continue
        per_characters = model.price.unit == "1k characters"
        if model.rest:
            rates[(model.model_id, Transport.REST)] = Rate(model.price.neurons, per_characters)
        if model.websocket:
            neurons = model.price.websocket_neurons or model.price.neurons
            rates[(model.model_id, Transport.WEBSOCKET)] = Rate(neurons, per_characters)
    return rates


RATES: Final[Mapping[tuple[str, Transport], Rate]] = _rates()
"""Neurons per audio minute or per 1,000 characters (:class:`Rate`), by model and transport."""


def estimate_neurons(
    model_id: str,
    transport: Transport,
    *,
    audio_seconds: float | None = None,
    characters: int | None = None,
) -> float | None:
    """Neurons a call should cost by the price list; ``None`` when the model or the quantity it
    is priced by is unknown. MeloTTS (priced per output minute) is estimated from characters."""
    rate = RATES.get((model_id, transport))
    if rate is None:
        return None
    if rate.per_characters:
        return None if characters is None else rate.neurons * characters / 1000
    if audio_seconds is None and model_id == MELOTTS and characters is not None:
        audio_seconds = characters / MELOTTS_CHARACTERS_PER_SECOND
    return None if audio_seconds is None else rate.neurons * audio_seconds / 60


def usd_beyond_free(neurons_today: float) -> float:
    """US dollars the neurons of one day cost beyond the free allocation (Workers Paid)."""
    return max(0.0, neurons_today - DAILY_FREE_NEURONS) * USD_PER_1000_NEURONS / 1000


def audio_file_seconds(data: bytes) -> float | None:
    """Duration (s) of a WAV or FLAC file from its header, or ``None`` for other formats."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        try:
            with wave.open(io.BytesIO(data)) as wav:
                return float(wav.getnframes() / wav.getframerate())
        except (wave.Error, EOFError, ZeroDivisionError):
            return None
    if data[:4] == b"fLaC" and len(data) >= 26 and data[4] & 0x7F == 0:
        info = int.from_bytes(data[18:26], "big")  # STREAMINFO: rate 20 bits ... samples 36
        rate, samples = info >> 44, info & ((1 << 36) - 1)
        return samples / rate if rate and samples else None
    return None


def request_quantities(
    json_body: Mapping[str, Any] | None, data: bytes | None
) -> tuple[float | None, int | None]:
    """``(audio_seconds, characters)`` of a REST request body: the audio file (raw body or
    turbo's base64 ``audio``) and the text (aura ``text``, melotts ``prompt``)."""
    if json_body is None:
        return (audio_file_seconds(data) if data else None), None
    text = json_body.get("text", json_body.get("prompt"))
    if isinstance(text, str):
        return None, len(text)
    encoded = json_body.get("audio")
    if isinstance(encoded, str):
        try:
            return audio_file_seconds(base64.b64decode(encoded[:64_000])), None
        except (binascii.Error, ValueError):
            return None, None
    return None, None


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One call: neurons (from ``cf-ai-neurons``, or ``estimated``), audio seconds sent or
    synthesized, characters synthesized."""

    model_id: str
    transport: Transport
    neurons: float
    estimated: bool
    audio_seconds: float = 0.0
    characters: int = 0
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Sums over a day for one model and transport."""

    requests: int = 0
    neurons: float = 0.0
    estimated_neurons: float = 0.0
    """The part of ``neurons`` that was estimated."""
    audio_seconds: float = 0.0
    characters: int = 0

    def add(self, record: UsageRecord) -> UsageTotals:
        """These totals plus ``record``."""
        return replace(
            self,
            requests=self.requests + 1,
            neurons=self.neurons + record.neurons,
            estimated_neurons=self.estimated_neurons + (record.neurons if record.estimated else 0),
            audio_seconds=self.audio_seconds + record.audio_seconds,
            characters=self.characters + record.characters,
        )


@dataclass(frozen=True, slots=True)
class DayUsage:
    """A UTC day's usage per ``(model_id, transport)``."""

    day: date
    totals: Mapping[tuple[str, Transport], UsageTotals]

    @property
    def neurons(self) -> float:
        """All neurons of the day."""
        return sum(t.neurons for t in self.totals.values())

    @property
    def estimated(self) -> bool:
        """True when part of the day's neurons were estimated."""
        return any(t.estimated_neurons for t in self.totals.values())

    @property
    def free_share(self) -> float:
        """Share of the daily free allocation used (1.0 = all of it; may exceed 1)."""
        return self.neurons / DAILY_FREE_NEURONS

    @property
    def usd_beyond_free(self) -> float:
        """Cost beyond the free allocation, US dollars."""
        return usd_beyond_free(self.neurons)

    def summary(self) -> str:
        """One log line: neurons, share of the free allocation, cost, per model."""
        parts = [
            f"{model.rsplit('/', 1)[-1]}/{transport}: {t.requests} requests, "
            f"{t.neurons:.1f} neurons{' (estimated)' if t.estimated_neurons else ''}, "
            f"{t.audio_seconds / 60:.2f} audio min, {t.characters} characters"
            for (model, transport), t in sorted(self.totals.items())
        ]
        return (
            f"Workers AI usage {self.day.isoformat()} (UTC): {self.neurons:.1f} neurons"
            f"{' (partly estimated)' if self.estimated else ''}, "
            f"{self.free_share:.1%} of the daily free allocation, "
            f"${self.usd_beyond_free:.4f} beyond it" + ("; " + "; ".join(parts) if parts else "")
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "day": self.day.isoformat(),
            "neurons": round(self.neurons, 3),
            "estimated": self.estimated,
            "free_share": round(self.free_share, 4),
            "usd_beyond_free": round(self.usd_beyond_free, 6),
            "models": {
                f"{model} {transport}": {
                    "requests": t.requests,
                    "neurons": round(t.neurons, 3),
                    "estimated_neurons": round(t.estimated_neurons, 3),
                    "audio_seconds": round(t.audio_seconds, 3),
                    "characters": t.characters,
                }
                for (model, transport), t in sorted(self.totals.items())
            },
        }


RecordListener = Callable[[UsageRecord], None]
DayListener = Callable[[DayUsage], None]


class UsageMeter:
    """Today's usage (UTC), fed by :class:`~.client.WorkersAIClient` (``client.usage``).

    ``clock`` returns the current time (aware, UTC); injectable for tests. Listeners are called
    synchronously, in the caller's thread (the event loop), and must not block.
    """

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._day = clock().astimezone(UTC).date()
        self._totals: dict[tuple[str, Transport], UsageTotals] = {}
        self._record_listeners: list[RecordListener] = []
        self._day_listeners: list[DayListener] = []

    def add_listener(self, listener: RecordListener) -> Callable[[], None]:
        """Call ``listener`` with every record; returns a function that removes it."""
        self._record_listeners.append(listener)
        return lambda: self._record_listeners.remove(listener)

    def add_day_listener(self, listener: DayListener) -> Callable[[], None]:
        """Call ``listener`` with each finished UTC day; returns a function that removes it."""
        self._day_listeners.append(listener)
        return lambda: self._day_listeners.remove(listener)

    def today(self) -> DayUsage:
        """Today's usage so far (starts a new day first when 00:00 UTC has passed)."""
        self.roll_over()
        return DayUsage(self._day, dict(self._totals))

    def roll_over(self) -> DayUsage | None:
        """Start a new day if the UTC date changed; returns the finished day (also given to
        the day listeners), else ``None``."""
        now = self._clock().astimezone(UTC).date()
        if now == self._day:
            return None
        finished = DayUsage(self._day, dict(self._totals))
        self._day, self._totals = now, {}
        for listener in list(self._day_listeners):
            _call(listener, finished)
        return finished

    def record(
        self,
        model_id: str,
        transport: Transport,
        *,
        neurons: float | None = None,
        audio_seconds: float | None = None,
        characters: int | None = None,
    ) -> UsageRecord:
        """Count one call. ``neurons`` from ``cf-ai-neurons`` when known; else estimated from
        ``audio_seconds`` / ``characters`` (0, marked estimated, when even that is unknown)."""
        self.roll_over()
        estimated = neurons is None
        if neurons is None:
            neurons = (
                estimate_neurons(
                    model_id, transport, audio_seconds=audio_seconds, characters=characters
                )
                or 0.0
            )
        record = UsageRecord(
            model_id,
            transport,
            neurons,
            estimated,
            audio_seconds or 0.0,
            characters or 0,
            self._clock(),
        )
        key = (model_id, transport)
        self._totals[key] = self._totals.get(key, UsageTotals()).add(record)
        for listener in list(self._record_listeners):
            _call(listener, record)
        return record

    def record_rest(
        self,
        model_id: str,
        neurons: float | None,
        *,
        json_body: Mapping[str, Any] | None = None,
        data: bytes | None = None,
    ) -> UsageRecord:
        """Count a successful REST call: ``neurons`` from its ``cf-ai-neurons`` header (``None``
        when absent: estimated from the request body's audio seconds or characters)."""
        seconds, characters = request_quantities(json_body, data)
        return self.record(
            model_id,
            Transport.REST,
            neurons=neurons,
            audio_seconds=seconds,
            characters=characters,
        )


def _call(listener: Callable[[Any], None], value: Any) -> None:
    try:
        listener(value)
    except Exception:  # a broken listener must not fail the request that was metered
        _LOGGER.exception("Usage listener failed")
