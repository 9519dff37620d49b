"""Text-to-speech failover: the reply spoken by another Home Assistant text-to-speech entity.

The failover entity is called the way Home Assistant's TTS manager calls an entity: its
streaming method when it has one, else ``async_internal_get_tts_audio``
(https://github.com/home-assistant/core/blob/dev/homeassistant/components/tts/__init__.py), with
its own default options and the request's language (or the closest one it speaks). For a reply
already streaming as WAV, its audio (any container: WAV, MP3, FLAC, Ogg) is decoded and
resampled to the stream's mono 16-bit PCM at the stream's sample rate, so the reply stays one
playable WAV stream.
"""

import asyncio
import logging
from collections.abc import AsyncGenerator

# Core's integrations (elevenlabs) import TTSAudioRequest from the root; it is not in __all__.
from homeassistant.components.tts import (  # type: ignore[attr-defined]
    TextToSpeechEntity,
    TTSAudioRequest,
)
from homeassistant.components.tts.const import DATA_COMPONENT
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import language as language_util

from wyoming_server.workers_ai import audio

from .failover import FAILOVER_TIMEOUT, failover_failed

_LOGGER = logging.getLogger(__name__)


def failover_language(entity: TextToSpeechEntity, language: str) -> str:
    """``language`` if the entity speaks it, else its closest tag, else its default."""
    supported = entity.supported_languages or []
    if language in supported:
        return language
    matches = language_util.matches(language, supported)
    return matches[0] if matches else entity.default_language


async def async_failover_audio(
    hass: HomeAssistant, entity_id: str, text: str, language: str, what: str
) -> tuple[str, bytes]:
    """Return ``text`` spoken by the failover entity: (extension, whole file).

    Within :data:`FAILOVER_TIMEOUT` seconds.

    Raises:
        HomeAssistantError: (translated ``failover_failed``) the entity does not exist, fails,
            returns no audio or none in time.
    """
    entity = (
        hass.data[DATA_COMPONENT].get_entity(entity_id) if DATA_COMPONENT in hass.data else None
    )
    if entity is None:
        raise failover_failed(what, entity_id, "the entity does not exist or is not loaded")
    language = failover_language(entity, language)
    options = dict(entity.default_options or {})
    _LOGGER.debug("%s: %s speaks %r", what, entity_id, text)
    try:
        async with asyncio.timeout(FAILOVER_TIMEOUT):
            if entity.async_supports_streaming_input():

                async def message() -> AsyncGenerator[str]:
                    yield text

                response = await entity.internal_async_stream_tts_audio(
                    TTSAudioRequest(language, options, message())
                )
                extension: str | None = response.extension
                data: bytes | None = b"".join([chunk async for chunk in response.data_gen])
            else:
                extension, data = await entity.async_internal_get_tts_audio(text, language, options)
    except TimeoutError as err:
        raise failover_failed(what, entity_id, f"no audio within {FAILOVER_TIMEOUT:g} s") from err
    except HomeAssistantError as err:
        raise failover_failed(what, entity_id, str(err)) from err
    except Exception as err:
        raise failover_failed(what, entity_id, repr(err)) from err
    if not extension or not data:
        raise failover_failed(what, entity_id, "it returned no audio")
    return extension, data


async def async_failover_pcm(
    hass: HomeAssistant, entity_id: str, text: str, language: str, *, sample_rate: int, what: str
) -> bytes:
    """``text`` spoken by the failover entity as mono s16le PCM at ``sample_rate`` Hz.

    Raises:
        HomeAssistantError: as :func:`async_failover_audio`, or its audio cannot be decoded.
    """
    _, data = await async_failover_audio(hass, entity_id, text, language, what)
    try:
        return await hass.async_add_executor_job(to_pcm, data, sample_rate)
    except audio.AudioFormatError as err:
        raise failover_failed(what, entity_id, str(err)) from err


def to_pcm(data: bytes, sample_rate: int) -> bytes:
    """Any audio file as mono s16le PCM at ``sample_rate`` Hz.

    A PCM WAV is read by its chunks, so a streamed WAV whose header says 0 frames (Home
    Assistant's Wyoming TTS entity streams so) keeps all its audio; other containers are
    decoded with PyAV.

    Raises:
        audio.AudioFormatError: the data is not audio.
    """
    if (wav := _wav_pcm(data)) is not None:
        pcm, rate, width, channels = wav
        return audio.convert_pcm(pcm, rate, width, channels, sample_rate)
    return audio.decode_audio(data, sample_rate=sample_rate).pcm


def _wav_pcm(data: bytes) -> tuple[bytes, int, int, int] | None:
    """(pcm, rate, width, channels) of an integer-PCM WAV, else None."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    offset, fmt = 12, None
    while offset + 8 <= len(data):
        chunk_id, size = (
            data[offset : offset + 4],
            int.from_bytes(data[offset + 4 : offset + 8], "little"),
        )
        body = offset + 8
        if chunk_id == b"fmt " and size >= 16:
            fmt = (
                int.from_bytes(data[body : body + 2], "little"),  # 1: integer PCM
                int.from_bytes(data[body + 2 : body + 4], "little"),
                int.from_bytes(data[body + 4 : body + 8], "little"),
                int.from_bytes(data[body + 14 : body + 16], "little"),
            )
        elif chunk_id == b"data":
            if fmt is None or fmt[0] != 1:
                return None
            end = len(data) if size in (0, 0xFFFFFFFF) else min(len(data), body + size)
            _, channels, rate, bits = fmt
            return data[body:end], rate, bits // 8, channels
        offset = body + size + (size & 1)
    return None
