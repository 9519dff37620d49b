"""Tell an audio container from its first bytes, as Workers AI's labels cannot be trusted.

MeloTTS answers WAV although its schema says MP3, and aura REST may ignore ``encoding``
(https://github.com/cloudflare/cloudflare-docs/issues/25480).
"""

_MP3_FRAME_SYNC = 0xE0


def audio_extension(data: bytes) -> str | None:
    """``wav``, ``mp3``, ``flac`` or ``ogg`` for a file starting with ``data``; None if unknown.

    Magic numbers: RIFF....WAVE (WAV), ``ID3`` or an MPEG frame sync 0xFFEx/0xFFFx (MP3),
    ``fLaC`` (FLAC), ``OggS`` (Ogg).
    """
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:3] == b"ID3" or (
        len(data) >= 2 and data[0] == 0xFF and data[1] & _MP3_FRAME_SYNC == _MP3_FRAME_SYNC
    ):
        return "mp3"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    return None
