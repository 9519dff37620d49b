"""Helpers for the TTS tests: get audio through Home Assistant's TTS manager, measure it."""

import struct
from typing import Any

from homeassistant.components import tts
from homeassistant.components.tts.const import DATA_TTS_MANAGER
from homeassistant.core import HomeAssistant

from wyoming_server.workers_ai import audio

TTS_ENTITY_ID = "tts.workers_ai_tts_text_to_speech"


async def get_tts_audio(
    hass: HomeAssistant,
    message: str,
    engine: str = TTS_ENTITY_ID,
    options: dict[str, Any] | None = None,
    language: str | None = None,
) -> tuple[str, bytes]:
    """What a media player would fetch for ``message`` (extension, bytes), via the cache."""
    media_id = tts.generate_media_source_id(
        hass, message, engine=engine, language=language, options=options
    )
    return await tts.async_get_media_source_audio(hass, media_id)


def cache_keys(hass: HomeAssistant) -> set[str]:
    """Keys of Home Assistant's in-memory TTS cache (message, language, options, engine)."""
    return set(hass.data[DATA_TTS_MANAGER].mem_cache)


def wav_duration(data: bytes) -> float:
    """Seconds of PCM in a streamed WAV (16-bit mono; its header says 0 frames)."""
    assert data[:4] == b"RIFF"
    assert data[8:16] == b"WAVEfmt "
    channels, rate = struct.unpack("<HI", data[22:28])
    bits = struct.unpack("<H", data[34:36])[0]
    assert (channels, bits) == (1, 16)
    data_at = data.index(b"data", 36) + 8
    pcm = data[data_at:]
    assert pcm, "no audio"
    return len(pcm) / (2 * rate)


def mp3_duration(data: bytes) -> float:
    """Seconds of audio in an MP3 (decoded with PyAV)."""
    return audio.decode_audio(data).duration
