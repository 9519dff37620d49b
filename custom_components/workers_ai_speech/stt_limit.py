"""The audio limit of one utterance: at most ``max_seconds`` of audio reach Workers AI.

Home Assistant's VAD normally ends a voice command, but a stream can run on (a stuck satellite,
``POST /api/stt`` with a long body, flux hearing no end of turn). Audio past the limit is
dropped, the utterance is transcribed up to it, and :attr:`AudioLimit.truncated` tells the
entity to warn and count it: runaway streams are how cloud speech-to-text bills grow.
"""

import contextlib
from collections.abc import AsyncIterable, AsyncIterator

MAX_AUDIO_SECONDS = 30.0
"""Seconds of audio per utterance, every model (the Wyoming server's ``--max-audio-seconds``)."""


class AudioLimit:
    """A PCM stream cut after ``max_seconds``; iterate it instead of the stream."""

    def __init__(
        self, stream: AsyncIterable[bytes], bytes_per_second: int, max_seconds: float
    ) -> None:
        """``stream`` of 16-bit PCM at ``bytes_per_second`` (32,000 for 16 kHz mono)."""
        self._stream = stream
        self._room = int(max_seconds * bytes_per_second) // 2 * 2
        self.max_seconds = max_seconds
        self.truncated = False
        """True once the limit was reached: the rest of the stream is not read."""

    def __aiter__(self) -> AsyncIterator[bytes]:
        """The chunks up to the limit (the one crossing it cut)."""
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        iterator: AsyncIterator[bytes] = aiter(self._stream)
        try:
            async for chunk in iterator:
                if len(chunk) >= self._room:
                    self.truncated = True
                    if self._room:
                        yield chunk[: self._room]
                    return
                self._room -= len(chunk)
                yield chunk
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
