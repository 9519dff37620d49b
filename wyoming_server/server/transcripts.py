"""Wyoming transcript events of one utterance, always in protocol order.

Order (the "Event Flow" of https://github.com/OHF-Voice/wyoming, streaming speech to text):
``transcript-start``, ``transcript-chunk``*, ``transcript`` (always; Home Assistant reads only
this: https://github.com/home-assistant/core/blob/dev/homeassistant/components/wyoming/stt.py),
``transcript-stop``.

Chunk semantics: each ``transcript-chunk`` carries an append-only *delta*: the text that became
final since the previous chunk (nova-3 ``is_final`` segments, flux ``EndOfTurn``, or the whole
REST result). Deepgram revises interim hypotheses, and a Wyoming chunk cannot be retracted, so
interim text is never sent as a chunk. Hence, for every successful utterance,
``"".join(chunk.text for chunk in chunks) == transcript.text``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from wyoming.asr import Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.event import Event

_LOGGER = logging.getLogger(__name__)

WriteEvent = Callable[[Event], Awaitable[None]]


class TranscriptEvents:
    """Emit the transcript events of one utterance through ``write``."""

    def __init__(self, write: WriteEvent, language: str | None) -> None:
        """``language`` goes on ``transcript-start`` and, unless overridden, ``transcript``."""
        self._write = write
        self._language = language
        self._started = False
        self.sent_text = ""
        """Concatenation of every chunk sent so far."""
        self.finished = False
        """True once ``transcript`` (and ``transcript-stop``) went out."""

    async def _start(self) -> None:
        if not self._started:
            self._started = True
            await self._write(TranscriptStart(language=self._language).event())

    async def extend_to(self, text: str) -> None:
        """Send the delta that turns :attr:`sent_text` into ``text``, if ``text`` extends it.

        Text that does not extend what was sent (a revision) sends nothing: the final
        ``transcript`` carries the authoritative text.
        """
        if self.finished or not text.startswith(self.sent_text) or text == self.sent_text:
            if text and not text.startswith(self.sent_text):
                _LOGGER.debug("Final text revised after a chunk; no chunk for %r", text)
            return
        delta = text[len(self.sent_text) :]
        await self._start()
        self.sent_text = text
        await self._write(TranscriptChunk(text=delta).event())

    async def finish(
        self, text: str, language: str | None = None, notice: Event | None = None
    ) -> None:
        """Send the last delta, ``transcript``, ``notice`` (if any) and ``transcript-stop``
        (once; later calls no-op).

        ``notice`` (an ``error`` that does not void the transcript) goes after ``transcript``:
        Home Assistant's Wyoming speech-to-text returns at the first ``error`` or
        ``transcript`` it reads, so an ``error`` before the ``transcript`` would lose the text
        (https://github.com/home-assistant/core/blob/dev/homeassistant/components/wyoming/stt.py);
        clients that read to ``transcript-stop`` still see it.
        """
        if self.finished:
            return
        await self.extend_to(text)
        self.finished = True
        await self._start()
        await self._write(Transcript(text=text, language=language or self._language).event())
        if notice is not None:
            await self._write(notice)
        await self._write(TranscriptStop().event())
