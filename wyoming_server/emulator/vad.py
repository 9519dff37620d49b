"""Streaming audio buffer with energy-based speech detection, for the streaming ASR sessions.

Audio is float32 mono 16 kHz; positions are absolute sample indexes since the stream start.
Speech detection works on 20 ms frames: a frame is speech when its RMS level is above
``SPEECH_DBFS``; speech starts after ``ONSET_FRAMES`` consecutive speech frames (so clicks and
noise bursts are ignored). Deepgram's own VAD is a model; this is the emulator's stand-in.
"""

from __future__ import annotations

import math

import numpy as np

from .audio import WHISPER_RATE, FloatAudio

FRAME_SAMPLES = WHISPER_RATE // 50  # 20 ms
SPEECH_DBFS = -38.0
ONSET_FRAMES = 3
_SPEECH_RMS = 10 ** (SPEECH_DBFS / 20)


def seconds(samples: int) -> float:
    """Samples at 16 kHz → seconds (rounded to ms)."""
    return round(samples / WHISPER_RATE, 3)


def samples_for_ms(milliseconds: float) -> int:
    """Milliseconds → samples at 16 kHz."""
    return round(milliseconds * WHISPER_RATE / 1000)


class SpeechBuffer:
    """Received audio plus a per-frame speech flag.

    Keeps samples from ``start`` (absolute) on; :meth:`drop_before` forgets older audio.
    """

    def __init__(self) -> None:
        self._samples = np.zeros(0, np.float32)
        self.start = 0
        self._flags: list[bool] = []  # per absolute frame
        self._tail = np.zeros(0, np.float32)  # samples not yet in a whole frame

    @property
    def end(self) -> int:
        """Absolute index one past the last received sample."""
        return self.start + len(self._samples)

    @property
    def analysed_end(self) -> int:
        """Absolute index up to which speech flags exist (whole frames)."""
        return len(self._flags) * FRAME_SAMPLES

    def append(self, samples: FloatAudio) -> None:
        """Add received samples and classify the whole frames among them."""
        if not len(samples):
            return
        self._samples = np.concatenate([self._samples, samples])
        pending = np.concatenate([self._tail, samples])
        whole = len(pending) - len(pending) % FRAME_SAMPLES
        if whole:
            frames = pending[:whole].reshape(-1, FRAME_SAMPLES)
            rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
            self._flags.extend(bool(level > _SPEECH_RMS) for level in rms)
        self._tail = pending[whole:]

    def audio(self, start: int, end: int) -> FloatAudio:
        """Samples in ``[start, end)`` (absolute, clipped to what is kept)."""
        lo = max(start, self.start) - self.start
        hi = max(lo, min(end, self.end) - self.start)
        return self._samples[lo:hi]

    def drop_before(self, position: int) -> None:
        """Forget samples before ``position`` (absolute)."""
        if position <= self.start:
            return
        cut = min(position, self.end) - self.start
        self._samples = self._samples[cut:]
        self.start += cut

    def _frames(self, start: int, end: int) -> range:
        first = max(0, start // FRAME_SAMPLES)
        last = min(len(self._flags), math.ceil(end / FRAME_SAMPLES))
        return range(first, max(first, last))

    def speech_onset(self, start: int, end: int) -> int | None:
        """First position in ``[start, end)`` where speech starts (``ONSET_FRAMES`` speech
        frames in a row, all within the analysed range), or None."""
        run = 0
        for index in self._frames(start, end):
            run = run + 1 if self._flags[index] else 0
            if run >= ONSET_FRAMES:
                return (index - ONSET_FRAMES + 1) * FRAME_SAMPLES
        return None

    def has_speech(self, start: int, end: int) -> bool:
        """True if speech starts somewhere in ``[start, end)``."""
        return self.speech_onset(start, end) is not None

    def last_speech_end(self, start: int, end: int) -> int | None:
        """End position of the last speech frame in ``[start, end)``, or None."""
        for index in reversed(self._frames(start, end)):
            if self._flags[index]:
                return (index + 1) * FRAME_SAMPLES
        return None

    def endpoint(self, start: int, end: int, silence: int) -> int | None:
        """First position in ``[start, end)`` where, after speech, ``silence`` samples of
        non-speech have passed (the position is the end of that silence), or None."""
        needed = max(1, math.ceil(silence / FRAME_SAMPLES))
        run_speech = 0
        spoke = False
        quiet = 0
        for index in self._frames(start, end):
            if self._flags[index]:
                run_speech += 1
                if run_speech >= ONSET_FRAMES:
                    spoke = True
                quiet = 0
            else:
                run_speech = 0
                if spoke:
                    quiet += 1
                    if quiet >= needed:
                        return (index + 1) * FRAME_SAMPLES
        return None
