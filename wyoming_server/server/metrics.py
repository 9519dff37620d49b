"""Prometheus metrics on an optional HTTP port (``--metrics-port``), and latency probes.

Metrics (https://prometheus.io/docs/practices/naming/):

- ``workers_ai_neurons_total{model,transport,source}``: neurons spent; ``source`` is
  ``header`` (``cf-ai-neurons``) or ``estimate`` (price list).
- ``workers_ai_requests_total{model,transport}``, ``workers_ai_audio_seconds_total{...}``,
  ``workers_ai_characters_total{...}``.
- ``workers_ai_neurons_today`` and ``workers_ai_free_allocation_used_ratio`` (UTC day).
- ``wyoming_stt_wait_after_end_of_speech_seconds{model,end}``: from the end of speech to the
  ``transcript``. ``end="audio-stop"``: the client ended the audio (``audio-stop``, or the
  utterance limit); ``end="end-of-turn"``: flux ended the turn itself, and the wait starts when
  the audio up to its ``EndOfTurn``'s ``audio_window_end`` had been received (see
  :class:`~.utterance.SpeechEnd`).
- ``wyoming_stt_truncated_total{model}``: utterances cut at ``--max-audio-seconds`` (flux: the
  turn limit), counted when their ``utterance-truncated`` error goes out.
- ``wyoming_tts_time_to_first_audio_seconds{voice}``: from ``synthesize`` (or the first
  ``synthesize-chunk``) to the first ``audio-chunk``.
- ``wyoming_breaker_state{task}``: the Workers AI circuit breaker of ``stt`` / ``tts``
  (0 closed, 1 half-open, 2 open; only for tasks with a fallback).
- ``wyoming_failovers_total{task,reason,fallback}``: requests answered by a fallback;
  ``reason`` is the Workers AI error code (or ``breaker-open``), ``fallback`` the engine that
  answered (or ``failed``).

Needs the ``prometheus-client`` package (extra ``metrics``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web
from wyoming.event import Event

from ..workers_ai.usage import DayUsage, UsageMeter, UsageRecord
from .request_errors import UTTERANCE_TRUNCATED
from .utterance import SpeechEnd

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

_LOGGER = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
"""Histogram buckets, seconds."""


class ServerMetrics:
    """The server's metrics in their own registry (several servers may share a process)."""

    def __init__(self, meter: UsageMeter) -> None:
        from prometheus_client import (  # noqa: PLC0415 - optional extra
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
        )

        self.registry: CollectorRegistry = CollectorRegistry()
        labels = ("model", "transport")
        self.neurons = Counter(
            "workers_ai_neurons",
            "Neurons spent (cf-ai-neurons header, or estimated from the price list)",
            (*labels, "source"),
            registry=self.registry,
        )
        self.requests = Counter(
            "workers_ai_requests", "Workers AI calls", labels, registry=self.registry
        )
        self.audio_seconds = Counter(
            "workers_ai_audio_seconds",
            "Seconds of audio transcribed or synthesized (MeloTTS)",
            labels,
            registry=self.registry,
        )
        self.characters = Counter(
            "workers_ai_characters", "Characters synthesized", labels, registry=self.registry
        )
        today = Gauge(
            "workers_ai_neurons_today", "Neurons spent today (UTC)", registry=self.registry
        )
        share = Gauge(
            "workers_ai_free_allocation_used_ratio",
            "Share of the daily free allocation (10,000 neurons) used today",
            registry=self.registry,
        )
        today.set_function(lambda: meter.today().neurons)
        share.set_function(lambda: meter.today().free_share)
        self.stt_wait = Histogram(
            "wyoming_stt_wait_after_end_of_speech_seconds",
            "Seconds from the end of speech (audio-stop, or flux EndOfTurn's audio) to transcript",
            ("model", "end"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stt_truncated = Counter(
            "wyoming_stt_truncated",
            "Utterances cut at their audio limit (the rest of their audio not transcribed)",
            ("model",),
            registry=self.registry,
        )
        self.tts_first_audio = Histogram(
            "wyoming_tts_time_to_first_audio_seconds",
            "Seconds from synthesize (or the first synthesize-chunk) to the first audio-chunk",
            ("voice",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.breaker_state = Gauge(
            "wyoming_breaker_state",
            "Workers AI circuit breaker per task: 0 closed, 1 half-open, 2 open",
            ("task",),
            registry=self.registry,
        )
        self.failovers = Counter(
            "wyoming_failovers",
            "Requests answered by a fallback (fallback=failed: the fallback failed too)",
            ("task", "reason", "fallback"),
            registry=self.registry,
        )
        meter.add_listener(self.count)

    def count(self, record: UsageRecord) -> None:
        """Add one usage record to the counters."""
        labels = (record.model_id, str(record.transport))
        source = "estimate" if record.estimated else "header"
        self.neurons.labels(*labels, source).inc(record.neurons)
        self.requests.labels(*labels).inc()
        self.audio_seconds.labels(*labels).inc(record.audio_seconds)
        self.characters.labels(*labels).inc(record.characters)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        from prometheus_client import generate_latest  # noqa: PLC0415

        return bytes(generate_latest(self.registry))

    async def start_http(self, host: str | None, port: int) -> web.AppRunner:
        """Serve ``GET /metrics`` on ``host:port`` (``None``: all interfaces); returns the
        runner (call ``cleanup()``)."""
        from prometheus_client import CONTENT_TYPE_LATEST  # noqa: PLC0415

        async def metrics(request: web.Request) -> web.Response:
            return web.Response(
                body=self.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        _LOGGER.info("Prometheus metrics on http://%s:%d/metrics", host or "0.0.0.0", port)  # noqa: S104
        return runner


class LatencyProbe:
    """Times one connection's requests from the events it reads and writes."""

    def __init__(
        self,
        metrics: ServerMetrics,
        speech_end: Callable[[], tuple[str, SpeechEnd | None] | None],
        default_voice: str,
    ) -> None:
        """``speech_end()`` gives the model and the end of speech of the utterance being
        finished (``None``: no utterance); voices are labelled by the name the request asks
        for, else ``default_voice``."""
        self._metrics = metrics
        self._speech_end = speech_end
        self._default_voice = default_voice
        self._in_stream = False
        self._voice = default_voice
        self._text_at: float | None = None
        self._measured = False

    def _start_tts(self, event: Event, at: float | None) -> None:
        voice = (event.data or {}).get("voice")
        name = voice.get("name") if isinstance(voice, dict) else None
        self._voice = name if isinstance(name, str) and name else self._default_voice
        self._text_at, self._measured = at, False

    def event_in(self, event: Event) -> None:
        """Note an event read from the client."""
        now = time.monotonic()
        match event.type:
            case "synthesize-start":
                self._in_stream = True
                self._start_tts(event, None)
            case "synthesize-chunk":
                if self._in_stream and self._text_at is None and not self._measured:
                    self._text_at = now
            case "synthesize":
                if not self._in_stream:  # not the compatibility copy of a streamed text
                    self._start_tts(event, now)

    def event_out(self, event: Event) -> None:
        """Note an event written to the client."""
        match event.type:
            case "transcript":
                current = self._speech_end()
                if current is not None and (end := current[1]) is not None:
                    self._metrics.stt_wait.labels(current[0], end.kind).observe(
                        time.monotonic() - end.at
                    )
            case "error" if (event.data or {}).get("code") == UTTERANCE_TRUNCATED:
                current = self._speech_end()
                if current is not None:
                    self._metrics.stt_truncated.labels(current[0]).inc()
            case "audio-chunk" if self._text_at is not None and not self._measured:
                self._metrics.tts_first_audio.labels(self._voice).observe(
                    time.monotonic() - self._text_at
                )
                self._measured = True
            case "audio-stop":
                self._text_at = None
            case "synthesize-stopped":
                self._in_stream, self._text_at = False, None


def log_finished_day(day: DayUsage) -> None:
    """The daily usage line."""
    _LOGGER.info("%s", day.summary())
