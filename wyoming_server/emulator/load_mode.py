"""Load mode: answer every model call at once, without inference, for load tests.

The real models run one inference at a time on the CPU, so the emulator cannot answer 200
concurrent requests. In load mode (``python -m wyoming_server.emulator --load-mode``,
``EmulatorProcess(load_mode=True)``) speech recognition returns a canned transcript of the real
shape (:data:`CANNED_TEXT`, words spread over the audio, empty for silence) and speech
synthesis returns a quiet tone of the length real speech of that text would have, at the
voice's rate (22050 Hz s16le mono). Everything else (protocol, framing, VAD, encoding, faults)
is unchanged; the ``model_latency_ms`` fault sets how long each answer takes.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator

import numpy as np

from .audio import WHISPER_RATE, FloatAudio
from .engine import pad_latency
from .transcript import Options, Segment, Transcript, Word

CANNED_TEXT = "Turn on the living room light."
"""What every non-silent audio is heard as in load mode."""
SECONDS_PER_CHARACTER = 0.065
"""Speaking time per character of text at length scale 1 (about 150 words per minute)."""
TONE_HZ = 220.0
TONE_AMPLITUDE = 2000
"""Peak of the synthetic tone (s16 units): audible, far from clipping."""
RATE_HZ = 22050
"""Sample rate of the synthetic audio (the Piper voice's rate)."""

_enabled = False
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def enable(on: bool = True) -> None:
    """Turn load mode on (or off) for this process."""
    global _enabled  # noqa: PLW0603 - one process-wide switch
    _enabled = on


def enabled() -> bool:
    """Whether load mode is on."""
    return _enabled


async def transcribe(
    audio: FloatAudio, options: Options, model_latency_ms: float = 0.0
) -> Transcript:
    """The canned transcript of ``audio`` (float32 16 kHz mono), after ``model_latency_ms``."""
    started = time.monotonic()
    duration = round(len(audio) / WHISPER_RATE, 3)
    language = options.language or "en"
    if len(audio) < WHISPER_RATE // 20 or not np.any(audio):
        result = Transcript("", (), language, 1.0, duration, duration)
    else:
        tokens = CANNED_TEXT.split()
        step = duration / len(tokens)
        words = tuple(
            Word(token, round(i * step, 3), round((i + 0.9) * step, 3), 0.99)
            for i, token in enumerate(tokens)
        )
        segment = Segment(0.0, duration, CANNED_TEXT, 0.0, -0.1, 1.2, 0.01, words)
        result = Transcript(CANNED_TEXT, (segment,), language, 1.0, duration, duration)
    await pad_latency(started, model_latency_ms)
    return result


def _tone(text: str, length_scale: float) -> bytes:
    seconds = max(0.2, len(text.strip()) * SECONDS_PER_CHARACTER) * length_scale
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    return (np.sin(2 * np.pi * TONE_HZ * t) * TONE_AMPLITUDE).astype("<i2").tobytes()


async def synthesize(text: str, length_scale: float, model_latency_ms: float = 0.0) -> bytes:
    """Synthetic s16le mono PCM at 22050 Hz for ``text``, after ``model_latency_ms``."""
    started = time.monotonic()
    pcm = _tone(text, length_scale) if text.strip() else b""
    await pad_latency(started, model_latency_ms)
    return pcm


async def synthesize_stream(
    text: str, length_scale: float, model_latency_ms: float = 0.0
) -> AsyncGenerator[bytes, None]:
    """Like :func:`synthesize`, one piece per sentence (as Piper yields them)."""
    started = time.monotonic()
    first = True
    for sentence in _SENTENCE_END.split(text.strip()):
        if not sentence:
            continue
        if first:
            await pad_latency(started, model_latency_ms)
            first = False
        else:
            await asyncio.sleep(0)
        yield _tone(sentence, length_scale)
