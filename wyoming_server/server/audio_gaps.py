"""Silence while a streamed reply waits for text: the satellite must never starve.

An LLM reply streamed with ``synthesize-chunk`` can pause for seconds (a tool call, a web
search). Home Assistant forwards our audio as it comes: the first ``audio-start`` becomes the
WAV header of the TTS stream, every later ``audio-chunk`` its PCM, later ``audio-start`` /
``audio-stop`` are ignored
(https://github.com/home-assistant/core/blob/dev/homeassistant/components/wyoming/tts.py).
A gap of 5 s or more in that stream wedges a Home Assistant Voice PE satellite until it is
power-cycled (https://github.com/esphome/home-assistant-voice-pe/issues/612). So while a
streamed reply is open the server never goes :data:`MAX_AUDIO_GAP_S` without an audio event: it
sends short silent ``audio-chunk``s (inside the reply's one ``audio-start`` … ``audio-stop``, at
its one format), and ``audio-start`` itself with silence if the first sentence is late.

The silence follows the satellite's playback clock, estimated as the wall time since
``audio-start``: while audio already sent still covers the next interval only a short keep-alive
piece (:data:`KEEPALIVE_SILENCE_S`) goes out, so little latency is added to the next sentence;
once it runs out, silence covering the next interval. Memory is one interval of silence at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Final

from .audio_reply import AudioReply

MAX_AUDIO_GAP_S: Final = 2.0
"""Longest time (s) a client of an open streamed reply goes without an audio event.

Well under the 5 s text gap that wedges a Voice PE satellite
(https://github.com/esphome/home-assistant-voice-pe/issues/612), leaving room for Home
Assistant's and ffmpeg's buffering on the way to it. Silence is sent after half of it
(:data:`FILL_INTERVAL_S`), so a late event-loop wake-up still stays within the bound."""

FILL_INTERVAL_S: Final = MAX_AUDIO_GAP_S / 2
"""Seconds without an audio event after which silence is sent."""

KEEPALIVE_SILENCE_S: Final = 0.1
"""Silence (s) sent while the audio already sent still plays: enough samples to pass a
frame-based encoder (ffmpeg's FLAC frames are about 0.1 s), little added latency."""


class GapFiller:
    """Keeps one reply's audio flowing while it is open (:meth:`start` … :meth:`aclose`)."""

    def __init__(self, audio: AudioReply, rate: int, interval: float = FILL_INTERVAL_S) -> None:
        """``rate`` (Hz) is used for ``audio-start`` if silence comes before any audio."""
        self._audio = audio
        self._rate = rate
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.silence_s = 0.0
        """Seconds of silence sent so far."""
        self.fills = 0
        """How many times silence was sent."""

    def start(self) -> None:
        """Start watching (idempotent)."""
        if self._task is None:
            self._audio.last_write = time.monotonic()  # the client waits from now on
            self._task = asyncio.create_task(self._run(), name="tts gap filler")

    def _silence_needed(self, now: float) -> float:
        """Seconds of silence to send now so playback lasts until the next check."""
        audio = self._audio
        lead = 0.0 if audio.started_at is None else audio.seconds_sent - (now - audio.started_at)
        return min(self._interval, max(KEEPALIVE_SILENCE_S, self._interval - lead))

    async def _run(self) -> None:
        audio = self._audio
        while not audio.stopped:
            now = time.monotonic()
            wait = audio.last_write + self._interval - now
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            seconds = self._silence_needed(now)
            await audio.silence(seconds, self._rate)
            self.silence_s += seconds
            self.fills += 1

    async def aclose(self) -> None:
        """Stop sending silence (idempotent); a write failure ends it too."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
