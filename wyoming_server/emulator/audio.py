"""Audio decoding, resampling and encoding with PyAV (no file paths: faster-whisper 1.2.1 breaks
with PyAV 19 when given a file, so the emulator decodes everything itself).

Sample formats: "float" arrays are float32 in [-1, 1]; "PCM" is signed 16-bit little-endian
(s16le) interleaved bytes. Rates in Hz.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

WHISPER_RATE = 16000
"""Sample rate Whisper works at, in Hz."""

FloatAudio = npt.NDArray[np.float32]


class AudioDecodeError(Exception):
    """The bytes are not audio PyAV can decode."""


def decode_file(data: bytes) -> FloatAudio:
    """Decode an audio file (any container/codec FFmpeg knows: WAV, MP3, FLAC, Ogg, WebM...) to
    float32 mono at 16 kHz. Raises :class:`AudioDecodeError` if it cannot be decoded."""
    if not data:
        raise AudioDecodeError("empty audio")
    parts: list[FloatAudio] = []
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if container.streams.audio:
                resampler = av.AudioResampler(format="flt", layout="mono", rate=WHISPER_RATE)
                for frame in container.decode(audio=0):
                    frame.pts = None
                    parts.extend(_frames_to_float(resampler.resample(frame)))
                parts.extend(_frames_to_float(resampler.resample(None)))
    except (av.FFmpegError, ValueError, IndexError) as err:
        raise AudioDecodeError(f"cannot decode audio: {err}") from err
    if not parts:
        raise AudioDecodeError("no audio samples")
    return np.concatenate(parts)


def _frames_to_float(frames: list[av.AudioFrame]) -> list[FloatAudio]:
    return [frame.to_ndarray().reshape(-1).astype(np.float32, copy=False) for frame in frames]


class StreamResampler:
    """Streaming conversion of raw PCM chunks to float32 mono 16 kHz.

    ``encoding`` is ``linear16`` (s16le), ``mulaw`` or ``alaw`` (8-bit G.711); ``channels``
    interleaved channels are mixed down. Chunks may split samples: leftovers are kept.
    """

    def __init__(self, sample_rate: int, channels: int = 1, encoding: str = "linear16") -> None:
        if encoding not in ("linear16", "mulaw", "alaw"):
            raise ValueError(f"unsupported encoding {encoding}")
        if channels < 1 or channels > 8:
            raise ValueError("channels must be 1-8")
        self.sample_rate = sample_rate
        self.channels = channels
        self.encoding = encoding
        self._bytes_per_frame = channels * (2 if encoding == "linear16" else 1)
        self._pending = b""
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=WHISPER_RATE)

    def feed(self, data: bytes) -> FloatAudio:
        """Convert the next chunk; returns the float32 16 kHz samples available so far."""
        data = self._pending + data
        usable = len(data) - len(data) % self._bytes_per_frame
        self._pending = data[usable:]
        if usable == 0:
            return np.zeros(0, np.float32)
        samples = self._to_int16(data[:usable]).reshape(-1, self.channels)
        mono = samples.mean(axis=1).astype(np.int16) if self.channels > 1 else samples[:, 0]
        return self._resample(np.ascontiguousarray(mono))

    def flush(self) -> FloatAudio:
        """Samples still held by the resampler at the end of the stream."""
        return _concat(_frames_to_float(self._resampler.resample(None)))

    def _to_int16(self, data: bytes) -> npt.NDArray[np.int16]:
        if self.encoding == "linear16":
            return np.frombuffer(data, dtype="<i2").astype(np.int16)
        raw = np.frombuffer(data, dtype=np.uint8)
        return ulaw_to_int16(raw) if self.encoding == "mulaw" else alaw_to_int16(raw)

    def _resample(self, mono: npt.NDArray[np.int16]) -> FloatAudio:
        if self.sample_rate == WHISPER_RATE:
            return (mono.astype(np.float32) / 32768.0).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        return _concat(_frames_to_float(self._resampler.resample(frame)))


def _concat(parts: list[FloatAudio]) -> FloatAudio:
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def ulaw_to_int16(data: npt.NDArray[np.uint8]) -> npt.NDArray[np.int16]:
    """G.711 mu-law bytes to 16-bit samples."""
    u = (~data.astype(np.int32)) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def alaw_to_int16(data: npt.NDArray[np.uint8]) -> npt.NDArray[np.int16]:
    """G.711 A-law bytes to 16-bit samples."""
    a = data.astype(np.int32) ^ 0x55
    sign = a & 0x80
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << (exponent - 1)
    )
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


def resample_pcm(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample mono s16le PCM from ``from_rate`` to ``to_rate`` (Hz)."""
    if from_rate == to_rate or not pcm:
        return pcm
    return PcmResampler(from_rate, to_rate).feed(pcm, final=True)


class PcmResampler:
    """Streaming mono s16le resampler (Hz to Hz), for TTS audio sent in chunks."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=to_rate)

    def feed(self, pcm: bytes, *, final: bool = False) -> bytes:
        """Resample the next chunk (``final`` also flushes what the resampler holds)."""
        if self.from_rate == self.to_rate:
            return pcm
        out: list[bytes] = []
        usable = len(pcm) - len(pcm) % 2
        if usable:
            samples = np.frombuffer(pcm[:usable], dtype="<i2").reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = self.from_rate
            out.extend(_frame_bytes(f) for f in self._resampler.resample(frame))
        if final:
            out.extend(_frame_bytes(f) for f in self._resampler.resample(None))
        return b"".join(out)


def _frame_bytes(frame: av.AudioFrame) -> bytes:
    return bytes(frame.to_ndarray().astype("<i2").tobytes())


@dataclass(frozen=True)
class OutputFormat:
    """An encoded TTS output: Deepgram ``encoding`` + ``container`` at ``sample_rate`` Hz
    (``bit_rate`` in bits per second for compressed codecs)."""

    encoding: str
    container: str
    sample_rate: int
    bit_rate: int | None = None

    @property
    def content_type(self) -> str:
        """MIME type of the encoded bytes (Cloudflare's for non-MP3 output is not documented)."""
        if self.container == "wav":
            return "audio/wav"
        if self.container == "ogg":
            return "audio/ogg"
        return {
            "mp3": "audio/mpeg",
            "flac": "audio/flac",
            "aac": "audio/aac",
            "mulaw": "audio/basic",
            "alaw": "audio/x-alaw-basic",
        }.get(self.encoding, "application/octet-stream")


_RAW_CODECS = {"linear16": "pcm_s16le", "mulaw": "pcm_mulaw", "alaw": "pcm_alaw"}
_RAW_FORMATS = {"linear16": "s16le", "mulaw": "mulaw", "alaw": "alaw"}


def encode(pcm: bytes, rate: int, fmt: OutputFormat) -> bytes:
    """Encode mono s16le PCM at ``rate`` Hz into ``fmt`` (resampling to ``fmt.sample_rate``).

    Raises ``ValueError`` for a combination the emulator cannot produce.
    """
    pcm = resample_pcm(pcm, rate, fmt.sample_rate)
    if fmt.encoding == "linear16" and fmt.container == "none":
        return pcm
    if fmt.encoding in _RAW_CODECS:
        codec = _RAW_CODECS[fmt.encoding]
        muxer = "wav" if fmt.container == "wav" else _RAW_FORMATS[fmt.encoding]
    elif fmt.encoding == "mp3":
        codec, muxer = "libmp3lame", "mp3"
    elif fmt.encoding == "flac":
        codec, muxer = "flac", "flac"
    elif fmt.encoding == "opus":
        codec, muxer = "libopus", "ogg"
    elif fmt.encoding == "aac":
        codec, muxer = "aac", "adts"
    else:
        raise ValueError(f"unsupported encoding {fmt.encoding}")
    return _mux(pcm, fmt.sample_rate, codec, muxer, fmt.bit_rate)


def _mux(pcm: bytes, rate: int, codec: str, muxer: str, bit_rate: int | None) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=muxer) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        if bit_rate:
            stream.bit_rate = bit_rate
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = rate
        # Let PyAV's encoder-side resampler convert s16 to the codec's sample format and
        # split into the codec's frame size.
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
