"""Streamed text (an LLM's deltas, or a whole message) as sentence batches to synthesize.

Home Assistant hands a streaming TTS entity text in arbitrary pieces
(https://github.com/home-assistant/core/blob/dev/homeassistant/components/tts/__init__.py);
aura speaks what it was sent at each ``Flush``, and allows 20 flushes a minute
(https://developers.deepgram.com/docs/tts-ws-flush), so sentences are batched.
"""

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator

from sentence_stream import SentenceBoundaryDetector

from homeassistant.core import HomeAssistant

from wyoming_server.workers_ai.text import split_text

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

SENTENCE_SCHEDULE = (1, 3)
"""Sentences per synthesis request: the first alone (fast first audio), then up to three, then
everything available (the schedule of Home Assistant's ElevenLabs integration)."""

TEXT_IDLE_TIMEOUT = 60.0
"""Seconds to wait for more text of a streamed message before ending its audio.

Home Assistant 2026.10.4's Assist pipeline ends the text stream only after the conversation
agent returns; when the agent fails after streaming began, the stream never ends and nothing
cancels the TTS task (homeassistant/components/assist_pipeline/default_pipeline.py in
https://github.com/home-assistant/core). Without this bound the task and its aura WebSocket
would stay open forever."""


TEXT_PAUSE_S = 1.0
"""Seconds without new text after which a sentence held back is spoken.

``sentence-stream`` ends a sentence only when the next one starts (a space and a capital), so
a reply whose text pauses after a sentence (an LLM calling a tool) would hold that sentence
back for the whole pause: on a Voice PE satellite a pause of 5 s then wedges the reply
(https://github.com/esphome/home-assistant-voice-pe/issues/612)."""

SENTENCE_ENDINGS = ".!?\u2026\u3002\uff01\uff1f"
CLOSERS = "\"')]}\u201d\u2019\u00bb*"


def _held_sentence_is_complete(detector: SentenceBoundaryDetector) -> bool:
    """Tell whether the text ``detector`` holds back ends like a sentence.

    ``.``, ``!``, ``?``, ``…``, with any closing quotes or brackets.
    """
    held = (detector.current_sentence + detector.remaining_text).rstrip().rstrip(CLOSERS)
    return bool(held) and held[-1] in SENTENCE_ENDINGS


async def sentence_batches(
    hass: HomeAssistant, message_gen: AsyncIterator[str], max_chars: int | None = None
) -> AsyncGenerator[str]:
    """Yield the text of ``message_gen`` as whole sentences, batched by SENTENCE_SCHEDULE.

    Text chunks may end anywhere (LLM deltas); sentences are found with ``sentence-stream``;
    a complete sentence held back is released when the text pauses for :data:`TEXT_PAUSE_S` s.
    Sentences that arrive while a batch is being spoken are joined into the next batch. No
    batch is longer than ``max_chars`` characters (the model's limit per request): a longer
    sentence is split at spaces. Ends (and closes ``message_gen``) when no text arrives for
    :data:`TEXT_IDLE_TIMEOUT` s.
    """
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def _put(sentence: str) -> None:
        for piece in split_text(sentence, max_chars) if max_chars else [sentence.strip()]:
            if piece:
                queue.put_nowait(piece)

    async def _read() -> None:
        detector = SentenceBoundaryDetector()

        def _pause() -> None:  # the text paused: a complete sentence held back is spoken now
            if _held_sentence_is_complete(detector):
                _put(detector.finish())

        timer = hass.loop.call_later(TEXT_PAUSE_S, _pause)
        try:
            async for chunk in message_gen:
                timer.cancel()
                for sentence in detector.add_chunk(chunk):
                    _put(sentence)
                timer = hass.loop.call_later(TEXT_PAUSE_S, _pause)
            _put(detector.finish())
        finally:
            timer.cancel()
            queue.put_nowait(None)

    reader = hass.async_create_background_task(_read(), f"{DOMAIN} TTS text reader")
    schedule = list(SENTENCE_SCHEDULE)
    carried: str | None = None  # a sentence that did not fit into the previous batch
    done = False
    try:
        while not done:
            first: str | None
            if carried is not None:
                first, carried = carried, None
            else:
                try:
                    async with asyncio.timeout(TEXT_IDLE_TIMEOUT):
                        first = await queue.get()
                except TimeoutError:
                    _LOGGER.warning("No text for %s s: ending the speech here", TEXT_IDLE_TIMEOUT)
                    return
            if first is None:
                break
            batch, size = [first], len(first)
            limit = schedule.pop(0) if schedule else None
            while not queue.empty() and (limit is None or len(batch) < limit):
                sentence = queue.get_nowait()
                if sentence is None:
                    done = True
                    break
                if max_chars and size + 1 + len(sentence) > max_chars:
                    carried = sentence
                    break
                batch.append(sentence)
                size += 1 + len(sentence)
            yield " ".join(batch)
        await reader  # propagate an error of the text stream
    finally:
        if not reader.done():
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
