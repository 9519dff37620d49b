"""What the Home Assistant pipeline benchmark measures, without Home Assistant: the recording,
where its speech ends, and the event deltas of one ``assist_pipeline/run``.

The clock of a run (:class:`RunClock`): the satellite starts capturing at ``t0``; audio chunk
``i`` holds samples ``[i*n, (i+1)*n)`` and is sent when its last sample has been captured, at
``t0 + (i+1)*n/16000`` s. So sample ``s`` is spoken at ``t0 + s/16000`` and the end of speech
(sample :func:`speech_end_sample`) at ``t0 + speech_end/16000``: the benchmark's figures start
there, so the chunk framing a satellite cannot avoid is inside them.

Event names are Home Assistant's (``PipelineEventType`` in
https://github.com/home-assistant/core/blob/dev/homeassistant/components/assist_pipeline/models.py).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wyoming_server.emulator.vad import SpeechBuffer

RATE = 16000
"""Hz: Assist pipelines take 16 kHz 16-bit mono PCM."""


def speech_end_sample(pcm: bytes) -> int:
    """Sample offset one past the last speech of 16 kHz s16le ``pcm``.

    Speech is the emulator's own speech detection (20 ms frames with an RMS level above
    -38 dBFS, :mod:`wyoming_server.emulator.vad`), the same rule its flux and nova-3 stand-ins
    use to find the end of a turn. Raises ``ValueError`` if ``pcm`` has no speech.
    """
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    buffer = SpeechBuffer()
    buffer.append(samples)
    end = buffer.last_speech_end(0, len(samples))
    if end is None:
        raise ValueError("no speech in the recording")
    return min(end, len(samples))


def emulator_flux_floor(speech_end: int, eot_seconds: float, tick: int) -> float:
    """Seconds from the end of speech (sample ``speech_end``) to the emulator's flux
    ``EndOfTurn`` with zero processing time: the first ``TurnInfo`` tick (every ``tick``
    samples of audio, counted from the stream's first sample) that ends ``eot_seconds`` or
    more after the speech (:mod:`wyoming_server.emulator.listen_v2`). No path can beat it
    against the emulator."""
    due = speech_end + eot_seconds * RATE
    ticks = -(-round(due) // tick)  # ceiling
    return (ticks * tick - speech_end) / RATE


def recording_with_silence(
    speech: bytes, silence_seconds: float, *, noise_dbfs: float = -60.0, seed: int = 0
) -> bytes:
    """``speech`` (16 kHz s16le) followed by ``silence_seconds`` of room noise at
    ``noise_dbfs`` (seeded Gaussian, far below any speech threshold), as a microphone gives."""
    rng = np.random.default_rng(seed)
    level = 32768 * 10 ** (noise_dbfs / 20)
    noise = np.clip(rng.normal(0.0, level, int(silence_seconds * RATE)), -32768, 32767)
    return speech + noise.astype("<i2").tobytes()


@dataclass
class RunClock:
    """Monotonic times (s) of one pipeline run, as the satellite saw them."""

    t0: float
    """When capture of the first audio sample started."""
    speech_end_sample: int
    events: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    """``(received at, event type, data)`` in arrival order."""
    first_audio: float | None = None
    """When the first byte of TTS audio (not of a container header) arrived."""

    @property
    def speech_end(self) -> float:
        """When the last speech sample was spoken."""
        return self.t0 + self.speech_end_sample / RATE

    def first(self, kind: str) -> float | None:
        """Arrival time of the first ``kind`` event, or None."""
        return next((t for t, k, _ in self.events if k == kind), None)

    def data(self, kind: str) -> dict[str, Any]:
        """Data of the first ``kind`` event ({} if none)."""
        return next((d for _, k, d in self.events if k == kind), {})

    def first_sentence(self) -> tuple[float | None, str]:
        """When the agent's reply text was first known, and from which event.

        The first ``intent-progress`` whose chat log delta carries assistant text (a streaming
        agent), else ``intent-end`` (Home Assistant's own agent answers in one piece).
        """
        role = None
        for t, kind, data in self.events:
            if kind != "intent-progress":
                continue
            delta = data.get("chat_log_delta") or {}
            role = delta.get("role", role)
            if role == "assistant" and delta.get("content"):
                return t, "intent-progress"
        return self.first("intent-end"), "intent-end"

    def deltas(self) -> dict[str, float | None]:
        """Seconds: ``stt_end_after_speech_end`` (end of speech -> ``stt-end``),
        ``vad_end_after_speech_end`` (-> ``stt-vad-end``, None without Home Assistant's VAD),
        ``first_audio_after_first_sentence`` (reply text known -> first TTS audio byte)."""

        def since(start: float | None, end: float | None) -> float | None:
            return None if start is None or end is None else round(end - start, 4)

        sentence, _ = self.first_sentence()
        return {
            "stt_end_after_speech_end": since(self.speech_end, self.first("stt-end")),
            "vad_end_after_speech_end": since(self.speech_end, self.first("stt-vad-end")),
            "first_audio_after_first_sentence": since(sentence, self.first_audio),
        }


def audio_offset(head: bytes) -> int | None:
    """Bytes before the first audio byte in the start ``head`` of a WAV or MP3 stream, or
    None while the header is not complete yet.

    WAV: the ``data`` chunk's payload. MP3: after an ID3v2 tag (its size is a syncsafe integer,
    https://id3.org/id3v2.4.0-structure), the first frame sync.
    """
    if head[:4] == b"RIFF":
        position = 12
        while position + 8 <= len(head):
            size = int.from_bytes(head[position + 4 : position + 8], "little")
            if head[position : position + 4] == b"data":
                return position + 8
            position += 8 + size + (size & 1)
        return None
    start = 0
    if head[:3] == b"ID3":
        if len(head) < 10:
            return None
        size = 0
        for byte in head[6:10]:
            size = (size << 7) | (byte & 0x7F)
        start = 10 + size + (10 if head[5] & 0x10 else 0)  # footer flag
    for position in range(start, len(head) - 1):
        if head[position] == 0xFF and (head[position + 1] & 0xE0) == 0xE0:
            return position
    return None


def stats(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """``runs``, ``median_ms``, ``min_ms``, ``max_ms`` of seconds (None values skipped)."""
    ms = sorted(v * 1000 for v in values if v is not None)
    if not ms:
        return {"runs": 0, "median_ms": None, "min_ms": None, "max_ms": None}
    return {
        "runs": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "min_ms": round(ms[0], 1),
        "max_ms": round(ms[-1], 1),
    }
