"""PyAV-based PCM helpers on real recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wyoming_server.workers_ai import audio

SPEECH = Path(__file__).resolve().parents[1] / "data"


def _read(name: str) -> tuple[bytes, int, int, int]:
    return audio.read_wav((SPEECH / name).read_bytes())


def test_flac_upload_is_lossless_and_smaller() -> None:
    pcm, rate, width, channels = _read("living_room_light_en.wav")
    assert (rate, width, channels) == (16000, 2, 1)
    flac = audio.encode_flac(pcm, rate)
    assert flac[:4] == b"fLaC"
    assert len(flac) < 0.8 * len(pcm)
    decoded = audio.decode_audio(flac)
    assert (decoded.pcm, decoded.sample_rate) == (pcm, rate)


def test_stereo_44k_converts_in_chunks_like_whole() -> None:
    pcm, rate, width, channels = _read("turn_on_the_living_room_lamp.wav")
    assert (rate, channels) == (44100, 2)
    converter = audio.PcmConverter(rate, width, channels, 16000)
    # odd chunk sizes split samples and frames across calls
    chunked = b"".join(converter.convert(pcm[i : i + 1001]) for i in range(0, len(pcm), 1001))
    chunked += converter.flush()
    whole = audio.convert_pcm(pcm, rate, width, channels, 16000)
    assert chunked == whole
    seconds = len(pcm) / (rate * width * channels)
    assert len(whole) / 2 / 16000 == pytest.approx(seconds, abs=0.01)
    # the downmix keeps the speech energy (not silence, not clipped noise)
    samples = np.frombuffer(whole, dtype=np.int16).astype(np.float64)
    assert 200 < np.sqrt(np.mean(samples**2)) < 20000


def test_wav_roundtrip_and_resample() -> None:
    pcm, rate, _, _ = _read("living_room_light_en.wav")
    wav = audio.pcm_to_wav(pcm, rate)
    assert audio.read_wav(wav)[0] == pcm
    up = audio.decode_audio(wav, sample_rate=24000)
    assert up.sample_rate == 24000
    assert up.duration == pytest.approx(len(pcm) / 2 / rate, abs=0.01)


@pytest.mark.parametrize(("rate", "width", "channels"), [(0, 2, 1), (16000, 3, 1), (16000, 2, 0)])
def test_bad_formats_are_rejected(rate: int, width: int, channels: int) -> None:
    with pytest.raises(audio.AudioFormatError):
        audio.PcmConverter(rate, width, channels, 16000)


def test_garbage_is_not_audio() -> None:
    with pytest.raises(audio.AudioFormatError):
        audio.decode_audio(b"this is not audio at all" * 10)
    with pytest.raises(audio.AudioFormatError):
        audio.read_wav(b"nope")
