"""Speech-to-text failover: the whole utterance replayed to another speech-to-text entity.

While Workers AI hears the audio, :class:`AudioTape` keeps a copy (bounded by
:data:`MAX_REPLAY_SECONDS`); when Workers AI fails (failover.py), the failover entity gets the
copy and then the rest of the live stream, so it hears everything that was said. It is called
the way Home Assistant's ``/api/stt`` view calls an entity (``internal_async_process_audio_stream``
in https://github.com/home-assistant/core/blob/dev/homeassistant/components/stt/__init__.py).
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from dataclasses import replace
from typing import Final

from homeassistant.components import stt
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import language as language_util

from .const import DOMAIN, STT_SAMPLE_RATE
from .failover import FAILOVER_TIMEOUT, failover_failed

_LOGGER = logging.getLogger(__name__)

MAX_REPLAY_SECONDS: Final = 30.0
"""Seconds of audio kept for a replay (960 kB at 16 kHz 16-bit mono): the Wyoming server's
``max_audio_seconds``; Home Assistant's voice command segmenter ends a command after 15 s."""
MAX_REPLAY_BYTES: Final = int(MAX_REPLAY_SECONDS * STT_SAMPLE_RATE * 2)


class AudioTape:
    """Reads an audio stream once for Workers AI, and can replay it whole for the failover.

    Reads of the source are shielded: a reader cancelled while waiting for a chunk (Workers AI
    failed meanwhile) leaves the read running, and the replay gets that chunk, so no chunk is
    lost and the source is never closed by the first reader.
    """

    def __init__(self, source: AsyncIterable[bytes], limit: int = MAX_REPLAY_BYTES) -> None:
        """Record up to ``limit`` bytes of ``source`` (16 kHz 16-bit mono PCM chunks)."""
        self._source: AsyncIterator[bytes] = aiter(source)
        self._limit = limit
        self._chunks: list[bytes] = []
        self.recorded = 0
        self.overflow = False
        self._reading: asyncio.Future[bytes | None] | None = None

    async def _next(self) -> bytes | None:
        if self._reading is None:
            self._reading = asyncio.ensure_future(anext(self._source, None))
        reading = self._reading
        chunk = await asyncio.shield(reading)
        self._reading = None
        return chunk

    async def play(self) -> AsyncGenerator[bytes]:
        """The source's chunks, recorded (what Workers AI reads)."""
        while (chunk := await self._next()) is not None:
            if not self.overflow:
                if self.recorded + len(chunk) > self._limit:
                    self.overflow = True
                    self._chunks.clear()
                else:
                    self._chunks.append(chunk)
                    self.recorded += len(chunk)
            yield chunk

    async def replay(self) -> AsyncGenerator[bytes]:
        """Everything recorded, then the rest of the source (what the failover hears).

        Raises:
            HomeAssistantError: more than :data:`MAX_REPLAY_SECONDS` had been heard, so the
                utterance cannot be replayed whole.
        """
        if self.overflow:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="failover_too_long",
                translation_placeholders={"seconds": f"{MAX_REPLAY_SECONDS:g}"},
            )
        for recorded in list(self._chunks):
            yield recorded
        while (chunk := await self._next()) is not None:
            yield chunk

    async def aclose(self) -> None:
        """Stop a read still waiting for the source (the request is over)."""
        if self._reading is not None and not self._reading.done():
            self._reading.cancel()
            with contextlib.suppress(BaseException):
                await self._reading
        self._reading = None


def failover_metadata(
    entity: stt.SpeechToTextEntity, metadata: stt.SpeechMetadata
) -> stt.SpeechMetadata:
    """``metadata`` with a language tag the failover entity lists (``en-US`` → ``en``...)."""
    if metadata.language in entity.supported_languages:
        return metadata
    matches = language_util.matches(metadata.language, entity.supported_languages)
    return replace(metadata, language=matches[0]) if matches else metadata


async def async_failover_transcribe(
    hass: HomeAssistant,
    entity_id: str,
    metadata: stt.SpeechMetadata,
    stream: AsyncIterable[bytes],
    what: str,
) -> stt.SpeechResult:
    """Return the failover entity's result for the whole ``stream``.

    Within :data:`FAILOVER_TIMEOUT` seconds after the stream's end.

    Raises:
        HomeAssistantError: (translated ``failover_failed``) the entity does not exist, cannot
            take the audio, fails, answers with an error or not in time.
    """
    loop = asyncio.get_running_loop()
    entity = stt.async_get_speech_to_text_entity(hass, entity_id)
    if entity is None:
        raise failover_failed(what, entity_id, "the entity does not exist or is not loaded")
    metadata = failover_metadata(entity, metadata)
    if not entity.check_metadata(metadata):
        raise failover_failed(
            what, entity_id, f"it cannot take {metadata.language} 16 kHz PCM audio"
        )
    # At most the longest replay plus the failover's own budget; from the end of the audio on,
    # only the failover's budget.
    deadline = asyncio.timeout(MAX_REPLAY_SECONDS + FAILOVER_TIMEOUT)

    async def until_end() -> AsyncGenerator[bytes]:
        async for chunk in stream:
            yield chunk
        deadline.reschedule(loop.time() + FAILOVER_TIMEOUT)  # the wait starts at the end

    _LOGGER.warning("%s: the failover entity %s transcribes instead", what, entity_id)
    try:
        async with deadline:
            result = await entity.internal_async_process_audio_stream(metadata, until_end())
    except HomeAssistantError:
        raise
    except TimeoutError as err:
        raise failover_failed(what, entity_id, f"no result within {FAILOVER_TIMEOUT:g} s") from err
    except Exception as err:
        raise failover_failed(what, entity_id, repr(err)) from err
    if result.result is not stt.SpeechResultState.SUCCESS:
        raise failover_failed(what, entity_id, "it answered with an error")
    return result
