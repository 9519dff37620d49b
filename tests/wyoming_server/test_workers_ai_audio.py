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


def _mp3_without_tag(pcm: bytes, rate: int) -> bytes:
    import io  # noqa: PLC0415

    import av  # noqa: PLC0415

    out = io.BytesIO()
    with av.open(out, "w", format="mp3", options={"write_xing": "0", "id3v2_version": "0"}) as mp3:
        stream = mp3.add_stream("libmp3lame", rate=rate, layout="mono")
        samples = np.frombuffer(pcm, np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            mp3.mux(packet)
    return out.getvalue()


def test_containers_are_recognised_from_their_bytes() -> None:
    """Workers AI's audio is labelled by its bytes (MeloTTS sends WAV under an MP3 schema; aura
    may send MP3 when linear16 was asked), and raw PCM is never mistaken for MP3."""
    pcm, rate, _, _ = _read("living_room_light_en.wav")
    wav = (SPEECH / "living_room_light_en.wav").read_bytes()
    mp3 = _mp3_without_tag(pcm, rate)
    assert mp3[:3] != b"ID3"
    assert audio.sniff_container(wav) == "wav"
    assert audio.wav_sample_rate(wav) == 16000
    assert audio.sniff_container(mp3) == "mp3"
    assert audio.sniff_container(b"ID3\x04\x00" + bytes(20)) == "mp3"
    assert audio.sniff_container(audio.encode_flac(pcm, rate)) == "flac"
    assert audio.sniff_container(b"OggS\x00\x02" + bytes(20)) == "ogg"
    # Raw s16le PCM whose first samples look like an MPEG frame sync (0xFF 0xFx ...).
    noise = np.random.default_rng(1).integers(-32768, 32767, 48000, dtype=np.int16).tobytes()
    for start in (b"\xff\xff", b"\xff\xfb", b"\xff\xf3\x90\x64"):
        assert audio.sniff_container(start + noise) is None
    assert audio.sniff_container(pcm) is None
