"""How each TTS speaker sounds in the emulator: one Piper voice at a per-speaker speaking rate.

Every (model, speaker) pair gets its own Piper ``length_scale`` (phoneme duration factor; >1
is slower), derived deterministically from a hash, so tests can tell which voice spoke from the
audio duration and predict it with :func:`speaker_length_scale`.
"""

from __future__ import annotations

import hashlib

from .schemas import default_speaker, speakers

MIN_LENGTH_SCALE = 0.8
MAX_LENGTH_SCALE = 1.3
MELOTTS = "@cf/myshell-ai/melotts"


def speaker_length_scale(model_id: str, speaker: str | None = None) -> float:
    """Piper ``length_scale`` for ``speaker`` of ``model_id`` (in [0.8, 1.3], 2 decimals).

    ``speaker`` None means the model's schema default (aura-1 ``angus``, aura-2-en ``luna``,
    aura-2-es ``aquila``). For melotts the "speaker" is the ``lang`` value (default ``en``).
    Audio duration is deterministic and close to linear in it (a + b * scale: Piper's pauses
    do not all scale). Raises ``ValueError`` for a model without
    speakers or a speaker outside the model's enum.
    """
    if model_id == MELOTTS:
        speaker = speaker or "en"
    else:
        allowed = speakers(model_id)
        if not allowed:
            raise ValueError(f"{model_id} is not a TTS model of the emulator")
        speaker = speaker or default_speaker(model_id)
        if speaker not in allowed:
            raise ValueError(f"{speaker!r} is not a speaker of {model_id}")
    digest = hashlib.sha256(f"{model_id}|{speaker}".encode()).digest()
    fraction = int.from_bytes(digest[:4], "big") / 2**32
    return round(MIN_LENGTH_SCALE + (MAX_LENGTH_SCALE - MIN_LENGTH_SCALE) * fraction, 2)
