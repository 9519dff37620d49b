"""PCM helpers on PyAV: format conversion, resampling, WAV/FLAC encoding, decoding.

All PCM here is signed 16-bit little-endian ("s16le"), interleaved, unless a ``width`` says
otherwise. Rates are in Hz, widths in bytes per sample, durations in seconds.

PyAV and numpy are imported on first use, not with this module: together they are about 25 MB
of a Wyoming server's idle memory, and a server whose clients send 16 kHz mono to a streaming
model never needs them (``benchmarks/startup.py`` measures this).
"""

from __future__ import annotations

import asyncio
import io
import wave
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import av

PCM_WIDTH: Final = 2
"""Bytes per sample of the PCM this project exchanges (16-bit)."""

THREAD_BYTES: Final = 32_000
"""Input larger than this (bytes; 0.2 s of 44.1 kHz stereo, 1 s of 16 kHz mono) is resampled
in a worker thread by :meth:`PcmConverter.aconvert`: the event loop keeps serving other
connections meanwhile."""

_FORMAT_BY_WIDTH: Final = {1: "u8", 2: "s16", 4: "s32"}
_DTYPE_BY_WIDTH: Final = {1: "u1", 2: "<i2", 4: "<i4"}  # numpy dtypes


CONTAINER_TYPES: Final = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
}
"""MIME type of each container :func:`sniff_container` recognises."""


def sniff_container(data: bytes) -> str | None:
    """The audio container of ``data`` from its first bytes, or ``None`` (e.g. raw PCM).

    ``"wav"`` (``RIFF....WAVE``), ``"mp3"`` (an ``ID3`` tag, or two consecutive valid MPEG
    audio frame headers: 11 sync bits, valid version, layer, bitrate and rate; one header
    alone is too weak, raw PCM can start with ``0xFF 0xFx``), ``"flac"`` (``fLaC``), ``"ogg"``
    (``OggS``). Never trust the model or the request for this: Workers AI answers MeloTTS as
    WAV although its schema says MP3, and aura REST may ignore ``encoding``.
    """
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:3] == b"ID3":
        return "mp3"
    length = _mpeg_frame_length(data[:4])
    if length and _mpeg_frame_length(data[length : length + 4]):
        return "mp3"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    return None


_MPEG_BITRATES_KBPS: Final = {
    # (MPEG-1?, layer) → bitrate index 1..14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES_HZ: Final = {
    3: (44100, 48000, 32000),
    2: (22050, 24000, 16000),
    0: (11025, 12000, 8000),
}


def _mpeg_frame_length(header: bytes) -> int:
    """Length in bytes of the MPEG audio frame whose 4-byte ``header`` is given; 0 when it is
    not a valid frame header (ISO/IEC 11172-3 and 13818-3 header layout)."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return 0
    version = (header[1] >> 3) & 0x3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
    layer = 4 - ((header[1] >> 1) & 0x3)  # bits 11 → I, 10 → II, 01 → III, 00 → reserved
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 0x3
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return 0
    mpeg1 = version == 3
    bitrate = _MPEG_BITRATES_KBPS[(mpeg1, layer)][bitrate_index - 1] * 1000
    rate = _MPEG_RATES_HZ[version][rate_index]
    padding = (header[2] >> 1) & 0x1
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    factor = 144 if layer == 2 or mpeg1 else 72
    return factor * bitrate // rate + padding


def wav_sample_rate(data: bytes) -> int | None:
    """The sample rate (Hz) in a canonical WAV header (``fmt `` chunk first), else ``None``."""
    if sniff_container(data) != "wav" or data[12:16] != b"fmt " or len(data) < 28:
        return None
    return int.from_bytes(data[24:28], "little") or None


class AudioFormatError(ValueError):
    """Audio is not in a format this module can read (bad width/rate/channels, corrupt data)."""


@dataclass(frozen=True, slots=True)
class PcmAudio:
    """Mono s16le PCM and its sample rate (Hz)."""

    pcm: bytes
    sample_rate: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.pcm) / (PCM_WIDTH * self.sample_rate) if self.sample_rate else 0.0


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


def validate_format(rate: int, width: int, channels: int) -> None:
    """Check a Wyoming/raw PCM format.

    Raises:
        AudioFormatError: rate outside 1000..384000 Hz, width not 1, 2 or 4 bytes, or channels
            outside 1..8.
    """
    if not 1000 <= rate <= 384_000:
        raise AudioFormatError(f"unsupported sample rate {rate} Hz")
    if width not in _FORMAT_BY_WIDTH:
        raise AudioFormatError(f"unsupported sample width {width} bytes (use 1, 2 or 4)")
    if not 1 <= channels <= 8:
        raise AudioFormatError(f"unsupported channel count {channels}")


class PcmConverter:
    """Streaming converter from any raw PCM format to mono s16le at ``target_rate`` Hz.

    Uses libswresample through :class:`av.AudioResampler`, which keeps filter state between
    chunks, so converting a stream chunk by chunk gives the same audio as converting it whole.
    Partial frames (a chunk that is not a whole number of samples) are carried over.

    Raises:
        AudioFormatError: from the constructor for an unsupported input format.
    """

    def __init__(self, rate: int, width: int, channels: int, target_rate: int) -> None:
        validate_format(rate, width, channels)
        self.rate = rate
        self.width = width
        self.channels = channels
        self.target_rate = target_rate
        self._frame_bytes = width * channels
        self._pending = b""
        self._passthrough = rate == target_rate and width == PCM_WIDTH and channels == 1
        self._resampler: av.AudioResampler | None = None
        if not self._passthrough:
            import av  # noqa: PLC0415 - lazy, see the module docstring

            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=target_rate)

    def convert(self, chunk: bytes) -> bytes:
        """Convert one chunk; returns whatever output is ready (possibly ``b""``)."""
        data = self._pending + chunk
        whole = len(data) - len(data) % self._frame_bytes
        self._pending = data[whole:]
        if not whole:
            return b""
        if self._resampler is None:
            return data[:whole]
        import av  # noqa: PLC0415 - lazy, see the module docstring
        import numpy as np  # noqa: PLC0415

        array = np.frombuffer(data[:whole], dtype=_DTYPE_BY_WIDTH[self.width]).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(
            array, format=_FORMAT_BY_WIDTH[self.width], layout=_layout(self.channels)
        )
        frame.sample_rate = self.rate
        return b"".join(
            bytes(out.planes[0])[: out.samples * PCM_WIDTH]
            for out in self._resampler.resample(frame)
        )

    async def aconvert(self, chunk: bytes) -> bytes:
        """:meth:`convert` for a caller on the event loop: a chunk that needs resampling and is
        larger than :data:`THREAD_BYTES` is converted in a worker thread. Calls must not
        overlap (await one before the next)."""
        if self._resampler is not None and len(chunk) > THREAD_BYTES:
            return await asyncio.to_thread(self.convert, chunk)
        return self.convert(chunk)

    def flush(self) -> bytes:
        """Return the resampler's buffered tail at the end of the stream."""
        if self._resampler is None:
            return b""
        return b"".join(
            bytes(out.planes[0])[: out.samples * PCM_WIDTH]
            for out in self._resampler.resample(None)
        )


def convert_pcm(pcm: bytes, rate: int, width: int, channels: int, target_rate: int) -> bytes:
    """Convert a whole PCM buffer to mono s16le at ``target_rate`` Hz (see PcmConverter)."""
    converter = PcmConverter(rate, width, channels, target_rate)
    return converter.convert(pcm) + converter.flush()


def pcm_to_wav(pcm: bytes, sample_rate: int, *, width: int = PCM_WIDTH, channels: int = 1) -> bytes:
    """Wrap raw PCM in a RIFF/WAV container (44-byte header)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def encode_flac(pcm: bytes, sample_rate: int) -> bytes:
    """Encode mono s16le PCM as a FLAC file (lossless; typically 50-60 % of WAV for speech)."""
    import av  # noqa: PLC0415 - lazy, see the module docstring
    import numpy as np  # noqa: PLC0415

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=sample_rate, layout="mono")
        stream.format = "s16"
        samples = np.frombuffer(pcm, dtype=np.int16)
        step = 4096
        for start in range(0, len(samples), step):
            frame = av.AudioFrame.from_ndarray(
                samples[start : start + step].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = sample_rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def decode_audio(data: bytes, *, sample_rate: int | None = None) -> PcmAudio:
    """Decode an audio file (MP3, WAV, FLAC, Ogg/Opus, ...) to mono s16le PCM.

    Args:
        data: the whole file.
        sample_rate: output rate in Hz; ``None`` keeps the file's own rate.

    Raises:
        AudioFormatError: the bytes are not audio PyAV can decode.
    """
    import av  # noqa: PLC0415 - lazy, see the module docstring

    try:
        with av.open(io.BytesIO(data), "r") as container:
            if not container.streams.audio:
                raise AudioFormatError("no audio stream in the data")
            stream = container.streams.audio[0]
            rate = sample_rate or stream.codec_context.sample_rate or stream.rate
            if not rate:
                raise AudioFormatError("audio stream has no sample rate")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            parts: list[bytes] = []
            for frame in container.decode(stream):
                parts.extend(
                    bytes(out.planes[0])[: out.samples * PCM_WIDTH]
                    for out in resampler.resample(frame)
                )
            parts.extend(
                bytes(out.planes[0])[: out.samples * PCM_WIDTH] for out in resampler.resample(None)
            )
    except av.FFmpegError as err:
        raise AudioFormatError(f"cannot decode audio: {err}") from err
    return PcmAudio(b"".join(parts), int(rate))


def read_wav(data: bytes) -> tuple[bytes, int, int, int]:
    """Parse a PCM WAV file: returns ``(pcm, rate_hz, width_bytes, channels)``.

    Raises:
        AudioFormatError: not a PCM WAV file.
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            return (
                wav.readframes(wav.getnframes()),
                wav.getframerate(),
                wav.getsampwidth(),
                wav.getnchannels(),
            )
    except (wave.Error, EOFError) as err:
        raise AudioFormatError(f"not a PCM WAV file: {err}") from err
