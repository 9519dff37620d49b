"""When each stretch of a stream's audio was received, to time a model's answer from the end
of speech it was based on (flux ``EndOfTurn``'s ``audio_window_end``,
https://developers.cloudflare.com/workers-ai/models/flux/). Used by the Wyoming server and the
Home Assistant component alike."""

from __future__ import annotations

import bisect

RECEIPT_RESOLUTION = 0.01
"""Seconds of audio below which :class:`AudioReceipts` merges entries (bounds its memory)."""


class AudioReceipts:
    """When an utterance's audio was received, by position in the stream the model hears.

    Positions are seconds of audio from the start of the stream (what flux's
    ``audio_window_end`` counts); times are ``time.monotonic()``. Entries spanning less than
    :data:`RECEIPT_RESOLUTION` of audio are merged into the next one (at most one entry per
    10 ms of audio, whatever the client's chunk size).
    """

    def __init__(self) -> None:
        self._ends: list[float] = []
        self._times: list[float] = []
        self.seconds = 0.0
        """Seconds of audio received so far."""

    def add(self, seconds: float, at: float) -> None:
        """``seconds`` more audio, received at ``at``."""
        self.seconds += seconds
        previous = self._ends[-2] if len(self._ends) > 1 else 0.0
        if self._ends and self._ends[-1] - previous < RECEIPT_RESOLUTION:
            self._ends[-1], self._times[-1] = self.seconds, at
        else:
            self._ends.append(self.seconds)
            self._times.append(at)

    def received_at(self, position: float) -> float | None:
        """When the audio up to ``position`` seconds had been received (``None``: no audio)."""
        if not self._times:
            return None
        index = bisect.bisect_left(self._ends, position - 1e-6)
        return self._times[min(index, len(self._times) - 1)]
