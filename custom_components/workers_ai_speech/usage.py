"""An account's usage today and this month (UTC), and the latency of its speech services.

Fed by the client's :class:`~wyoming_server.workers_ai.usage.UsageMeter` (``cf-ai-neurons``, or
price-list estimates); read by the sensors (sensor.py), which restore the values after a
restart. Days and months start at 00:00 UTC, when Cloudflare resets the free allocation
(https://developers.cloudflare.com/workers-ai/platform/pricing/).
"""

import statistics
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.util import dt as dt_util

from wyoming_server.workers_ai import catalog
from wyoming_server.workers_ai.audio_receipts import AudioReceipts
from wyoming_server.workers_ai.usage import (
    DAILY_FREE_NEURONS,
    UsageMeter,
    UsageRecord,
    usd_beyond_free,
)

LATENCY_SAMPLES = 50
"""Latencies kept per service for the median."""

STT = "stt"
TTS = "tts"


def day_start(now: datetime) -> datetime:
    """00:00 UTC of ``now``'s day."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    """00:00 UTC of the first day of ``now``'s month."""
    return day_start(now).replace(day=1)


@dataclass
class Latency:
    """Recent latencies of one service, seconds."""

    samples: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))

    @property
    def last(self) -> float | None:
        """The latest, or ``None``."""
        return self.samples[-1] if self.samples else None

    @property
    def median(self) -> float | None:
        """The median of the kept samples, or ``None``."""
        return statistics.median(self.samples) if self.samples else None


class AccountUsage:
    """Usage of one account (config entry) since 00:00 UTC, and cost this month."""

    def __init__(self, clock: Callable[[], datetime] = dt_util.utcnow) -> None:
        """``clock`` returns the time (aware); injectable for tests."""
        self._clock = clock
        now = clock()
        self.day = day_start(now)
        self.month = month_start(now)
        self.neurons_today = 0.0
        self.estimated_today = False
        self.stt_seconds_today = 0.0
        self.tts_characters_today = 0
        self.stt_truncated_today = 0
        """Utterances cut at their audio limit today."""
        self.usd_month = 0.0
        self.latency = {STT: Latency(), TTS: Latency()}
        self._listeners: list[CALLBACK_TYPE] = []

    @property
    def free_share(self) -> float:
        """Percent of the daily free allocation used."""
        return 100 * self.neurons_today / DAILY_FREE_NEURONS

    @property
    def usd_today(self) -> float:
        """Cost today beyond the free allocation, US dollars."""
        return usd_beyond_free(self.neurons_today)

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``listener`` after every change; returns the remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def async_attach(self, meter: UsageMeter) -> CALLBACK_TYPE:
        """Count the meter's records; returns the detacher."""
        return meter.add_listener(self.async_record)

    def roll_over(self) -> None:
        """Start a new day / month when 00:00 UTC has passed."""
        now = self._clock()
        if day_start(now) != self.day:
            self.day = day_start(now)
            self.neurons_today = self.stt_seconds_today = 0.0
            self.tts_characters_today = self.stt_truncated_today = 0
            self.estimated_today = False
        if month_start(now) != self.month:
            self.month = month_start(now)
            self.usd_month = 0.0

    @callback
    def async_midnight(self, _now: datetime) -> None:
        """00:00 UTC: start the new day even without requests (sensors, repair issue)."""
        self.roll_over()
        self._notify()

    @callback
    def async_record(self, record: UsageRecord) -> None:
        """Add one call."""
        self.roll_over()
        before = self.usd_today
        self.neurons_today += record.neurons
        self.usd_month += self.usd_today - before
        self.estimated_today |= record.estimated
        if catalog.get_model(record.model_id).task is catalog.Task.ASR:
            self.stt_seconds_today += record.audio_seconds
        else:
            self.tts_characters_today += record.characters
        self._notify()

    @callback
    def async_restore(self, key: str, value: float, period_start: datetime) -> None:
        """Take a sensor's value from before a restart.

        Only if it belongs to the current period (``period_start``: its ``last_reset``) and
        nothing was counted yet.
        """
        self.roll_over()
        if key == "usd_month":
            if period_start == self.month and not self.usd_month:
                self.usd_month = value
        elif period_start == self.day and not getattr(self, key):
            setattr(self, key, type(getattr(self, key))(value))
        self._notify()

    @callback
    def async_truncated(self) -> None:
        """Count one utterance cut at its audio limit."""
        self.roll_over()
        self.stt_truncated_today += 1
        self._notify()

    @callback
    def async_latency(self, service: str, seconds: float) -> None:
        """Record one latency of ``service``, in seconds.

        ``stt``: the wait after the end of speech; ``tts``: the time to first audio.
        """
        self.latency[service].samples.append(seconds)
        self._notify()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()


class SpeechTimer:
    """An audio stream that notes when the speech in it ended (the start of the STT wait).

    Iterate it instead of the stream. The end of speech is the end of the stream (Home
    Assistant's VAD or the satellite closed it), or, when flux ends the turn first
    (``EndOfTurn``), the moment the audio up to the ``EndOfTurn``'s ``audio_window_end`` (seconds
    of audio from the start of the stream,
    https://developers.cloudflare.com/workers-ai/models/flux/) had arrived: what flux decided
    on. Either way the wait after it is what the model and the network add.
    """

    def __init__(self, stream: AsyncIterable[bytes], bytes_per_second: int) -> None:
        """``stream`` of PCM at ``bytes_per_second`` (32,000 for 16 kHz 16-bit mono)."""
        self._stream = stream
        self._bytes_per_second = bytes_per_second
        self._receipts = AudioReceipts()
        self.stream_ended: float | None = None
        self.turn_ended: float | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        """The chunks of the stream, timed."""
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            self._receipts.add(len(chunk) / self._bytes_per_second, time.monotonic())
            yield chunk
        self.stream_ended = time.monotonic()

    def end_of_turn(self, audio_window_end: float) -> None:
        """Note that flux ended the turn on the audio up to ``audio_window_end`` seconds.

        Ignored once the stream has ended: then the end of the stream came first.
        """
        if self.stream_ended is None and self.turn_ended is None:
            self.turn_ended = self._receipts.received_at(audio_window_end)

    @property
    def speech_end(self) -> float | None:
        """``time.monotonic()`` of the end of speech, or ``None`` (not known yet)."""
        return self.turn_ended if self.turn_ended is not None else self.stream_ended
