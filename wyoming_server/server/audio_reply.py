"""The audio of one TTS reply: ``audio-start``, ``audio-chunk``*, ``audio-stop``.

Home Assistant builds its WAV header from the first ``audio-start`` (streaming) or the first
``audio-chunk`` (non-streaming) and ignores later format changes
(https://github.com/home-assistant/core/blob/dev/homeassistant/components/wyoming/tts.py), so one
reply keeps ONE format: 16-bit mono at the rate of the first audio; audio that arrives at another
rate is resampled to it.
"""

from __future__ import annotations

import asyncio
import time

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event

from ..workers_ai import audio
from .transcripts import WriteEvent

WIDTH = 2
CHANNELS = 1
THREAD_BYTES = 32_000
"""PCM larger than this (bytes, about 0.7 s at 24 kHz) is resampled in a worker thread."""


class AudioReply:
    """Write one reply's audio events, splitting PCM into ``samples_per_chunk`` chunks."""

    def __init__(self, write: WriteEvent, samples_per_chunk: int) -> None:
        """``samples_per_chunk`` is the size of a full ``audio-chunk`` in samples."""
        self._write = write
        self._chunk_bytes = samples_per_chunk * WIDTH
        self._carry = b""
        self.rate: int | None = None
        """Sample rate of the reply in Hz, fixed by the first audio."""
        self.stopped = False
        self.last_write = time.monotonic()
        """``time.monotonic()`` of the last event written (of the reply's creation before)."""
        self.started_at: float | None = None
        """``time.monotonic()`` of ``audio-start``."""
        self._samples_sent = 0
        # Held for each event written: audio-stop cannot slip between a check and a chunk.
        self._lock = asyncio.Lock()

    def _stopped(self) -> bool:
        return self.stopped

    @property
    def started(self) -> bool:
        """True once ``audio-start`` was sent."""
        return self.rate is not None

    @property
    def seconds_sent(self) -> float:
        """Seconds of audio sent so far."""
        return self._samples_sent / self.rate if self.rate else 0.0

    async def silence(self, seconds: float, rate: int) -> None:
        """Send ``seconds`` of silence in full chunks, with no audio in between (at the
        reply's rate; at ``rate`` Hz, after ``audio-start``, if no audio was sent yet).
        Nothing is sent after :meth:`stop`."""
        async with self._lock:
            if self._stopped():
                return
            await self._start(rate)
            assert self.rate is not None
            left = max(1, round(seconds * self.rate)) * WIDTH
            while left > 0:
                piece = bytes(min(left, self._chunk_bytes))
                left -= len(piece)
                await self._write_chunk(piece)

    async def _start(self, rate: int) -> None:
        """``audio-start`` at ``rate`` Hz unless sent (the lock is held)."""
        if self.rate is None:
            self.rate = rate
            self.started_at = time.monotonic()
            await self._write_event(
                AudioStart(rate=rate, width=WIDTH, channels=CHANNELS, timestamp=0).event()
            )

    async def _write_chunk(self, piece: bytes) -> None:
        """One ``audio-chunk`` at the reply's format (the lock is held)."""
        assert self.rate is not None
        await self._write_event(
            AudioChunk(
                rate=self.rate,
                width=WIDTH,
                channels=CHANNELS,
                audio=piece,
                timestamp=self._timestamp_ms,
            ).event()
        )
        self._samples_sent += len(piece) // WIDTH

    async def _write_event(self, event: Event) -> None:
        await self._write(event)
        self.last_write = time.monotonic()

    @property
    def _timestamp_ms(self) -> int:
        return self._samples_sent * 1000 // self.rate if self.rate else 0

    async def pcm(self, data: bytes, rate: int) -> None:
        """Send s16le mono PCM at ``rate`` Hz (the first call sends ``audio-start``).

        Audio that comes after :meth:`stop` (e.g. from a sentence still arriving while the
        reply fails) is dropped, never written after ``audio-stop``.
        """
        async with self._lock:
            if self._stopped():
                return
            await self._start(rate)
        target = self.rate
        assert target is not None
        if rate != target:
            if len(data) > THREAD_BYTES:  # resampling seconds of audio: off the event loop
                data = await asyncio.to_thread(
                    audio.convert_pcm, data, rate, WIDTH, CHANNELS, target
                )
            else:
                data = audio.convert_pcm(data, rate, WIDTH, CHANNELS, target)
        data = self._carry + data
        usable = len(data) - len(data) % WIDTH
        self._carry = data[usable:]
        for offset in range(0, usable, self._chunk_bytes):
            piece = data[offset : min(offset + self._chunk_bytes, usable)]
            async with self._lock:
                if self._stopped():  # stop() may have run while we waited for the lock
                    return
                await self._write_chunk(piece)

    async def stop(self) -> None:
        """Send ``audio-stop`` once (also when no audio was sent)."""
        async with self._lock:
            if not self.stopped:
                self.stopped = True
                await self._write(AudioStop(timestamp=self._timestamp_ms).event())
