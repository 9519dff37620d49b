"""Silence that keeps a streamed reply flowing while its text pauses.

A Voice PE satellite wedges when the audio of a streamed reply stops for about 5 s while the
reply goes on (https://github.com/esphome/home-assistant-voice-pe/issues/612): an LLM waiting
for a tool call pauses its text that long. Home Assistant passes every chunk of a streaming TTS
entity on to the satellite's HTTP request as it comes
(``TextToSpeechView.get`` in homeassistant/components/tts/__init__.py,
https://github.com/home-assistant/core), so once audio has started, the entity sends PCM zeros
whenever no audio came for :data:`SILENCE_INTERVAL_S`: enough that the satellite's playback
does not run dry, at least :data:`SILENCE_MIN_S`.
"""

import time
from collections.abc import Callable
from typing import Final

SILENCE_INTERVAL_S: Final = 0.5
"""Seconds without audio (after the first) before silence is sent; the stream to the
satellite is never quiet much longer than this (:data:`MAX_QUIET_S` with scheduling delays)."""
MAX_QUIET_S: Final = 2.0
"""The bound the silence keeps: no pause in a started reply's byte stream longer than this (s)."""
SILENCE_MIN_S: Final = 0.02
"""Shortest silence sent (s), when the satellite still has audio buffered."""
SAMPLE_BYTES: Final = 2  # mono s16le


class SilenceFiller:
    """The audio clock of a mono s16le PCM stream at ``sample_rate`` Hz, and its silence.

    The clock starts at the first audio (:meth:`sent`); a satellite plays no faster than real
    time, so audio sent beyond ``now - start`` is still buffered there.
    """

    def __init__(self, sample_rate: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.sample_rate = sample_rate
        self._clock = clock
        self._start: float | None = None
        self._sent_s = 0.0
        self.silence_s = 0.0
        """Seconds of silence sent so far."""

    @property
    def started(self) -> bool:
        """True once audio was sent (silence is only sent after that)."""
        return self._start is not None

    def sent(self, pcm: bytes) -> None:
        """Count ``pcm`` (bytes of mono s16le) as sent now."""
        if self._start is None:
            self._start = self._clock()
        self._sent_s += len(pcm) / (SAMPLE_BYTES * self.sample_rate)

    def silence(self) -> bytes:
        """Return the PCM zeros to send now.

        What keeps the satellite's playback fed for the next :data:`SILENCE_INTERVAL_S`, at
        least :data:`SILENCE_MIN_S`.
        """
        assert self._start is not None
        buffered = self._start + self._sent_s - self._clock()
        seconds = max(SILENCE_MIN_S, SILENCE_INTERVAL_S - buffered)
        frames = int(seconds * self.sample_rate)
        pcm = bytes(frames * SAMPLE_BYTES)
        self.sent(pcm)
        self.silence_s += frames / self.sample_rate
        return pcm
