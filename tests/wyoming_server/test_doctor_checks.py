"""doctor's judgement of audio bodies: containers told from the bytes, labels checked."""

from __future__ import annotations

import numpy as np

from wyoming_server.doctor.common import sniff_container
from wyoming_server.doctor.report import Check, Outcome
from wyoming_server.doctor.rest import _check_aura_rest
from wyoming_server.emulator.audio import OutputFormat, encode
from wyoming_server.workers_ai import audio
from wyoming_server.workers_ai.usage import Transport

RATE = 24000
TONE = (np.sin(np.arange(RATE) * 2 * np.pi * 440 / RATE) * 8000).astype(np.int16).tobytes()


def test_containers_are_told_from_the_bytes() -> None:
    assert sniff_container(encode(TONE, RATE, OutputFormat("mp3", "none", 24000, 48000))) == "mp3"
    assert sniff_container(audio.pcm_to_wav(TONE, RATE)) == "wav"
    assert sniff_container(audio.encode_flac(TONE, RATE)) == "flac"
    # Raw PCM whose samples are -1 (FF FF) looks like an MPEG frame sync, but is not MP3.
    quiet = np.full(RATE, -1, dtype=np.int16).tobytes()
    assert sniff_container(quiet) == "raw"
    assert sniff_container(TONE) == "raw"


def _aura(content_type: str, body: bytes) -> Check:
    check = Check("@cf/deepgram/aura-2-en", Transport.REST, content_type=content_type)
    _check_aura_rest(check, body)
    return check


def test_aura_rest_label_must_match_the_bytes() -> None:
    wav = audio.pcm_to_wav(TONE, RATE)
    mislabelled = _aura("audio/mpeg", wav)
    assert mislabelled.outcome is Outcome.DEVIATION
    assert "Content-Type audio/mpeg but the bytes are wav" in mislabelled.deviations
    # Raw linear16 as asked, and MP3 labelled as MP3 (encoding ignored, handled): no deviation.
    assert _aura("application/octet-stream", TONE).outcome is Outcome.OK
    mp3 = _aura("audio/mpeg", encode(TONE, RATE, OutputFormat("mp3", "none", 24000, 48000)))
    assert mp3.outcome is Outcome.OK
    assert mp3.known  # reported as a known difference
