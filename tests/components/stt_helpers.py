"""Helpers for the STT tests: Home Assistant's speech metadata and one transcription."""

from collections.abc import AsyncIterator

from homeassistant.components import stt
from homeassistant.core import HomeAssistant

CHUNK = 3200
"""Bytes per audio chunk: 100 ms of 16 kHz 16-bit mono, as Assist sends it."""


def speech_metadata(language: str = "en") -> stt.SpeechMetadata:
    """What the Assist pipeline sends: WAV, 16-bit PCM, 16 kHz, mono, in ``language``."""
    return stt.SpeechMetadata(
        language=language,
        format=stt.AudioFormats.WAV,
        codec=stt.AudioCodecs.PCM,
        bit_rate=stt.AudioBitRates.BITRATE_16,
        sample_rate=stt.AudioSampleRates.SAMPLERATE_16000,
        channel=stt.AudioChannels.CHANNEL_MONO,
    )


async def process_speech(
    hass: HomeAssistant, entity_id: str, pcm: bytes, language: str = "en"
) -> stt.SpeechResult:
    """Transcribe ``pcm`` (16 kHz 16-bit mono) with the STT entity, in 100 ms chunks."""
    entity = stt.async_get_speech_to_text_engine(hass, entity_id)
    assert entity is not None

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(pcm), CHUNK):
            yield pcm[start : start + CHUNK]

    return await entity.async_process_audio_stream(speech_metadata(language), stream())
