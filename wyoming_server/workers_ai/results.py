"""Typed results of Workers AI speech calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word. ``start``/``end`` are seconds from the start of the audio."""

    word: str
    start: float | None = None
    end: float | None = None
    confidence: float | None = None


def as_float(value: Any) -> float | None:
    """A JSON number as a float; ``None`` for anything else (booleans included)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def parse_neurons(value: str | None) -> float | None:
    """The ``cf-ai-neurons`` response header (what a call cost, in neurons) as a number;
    ``None`` when absent or not a number
    (https://developers.cloudflare.com/workers-ai/platform/pricing/)."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def words_from_json(items: Any, key: str = "word") -> tuple[Word, ...]:
    """Parse a JSON ``words`` list (``[{word, start, end, confidence?}]``) leniently.

    ``key`` names the text field to prefer (Deepgram's ``punctuated_word``), falling back to
    ``word``; entries that are not objects are skipped, non-numbers become ``None``.
    """
    if not isinstance(items, list):
        return ()
    return tuple(
        Word(
            str(item.get(key) or item.get("word") or "").strip(),
            as_float(item.get("start")),
            as_float(item.get("end")),
            as_float(item.get("confidence")),
        )
        for item in items
        if isinstance(item, dict)
    )


@dataclass(frozen=True, slots=True)
class Transcription:
    """A final transcript.

    ``language`` is what the model reported (turbo's ``transcription_info.language``, nova-3's
    detected language) or, failing that, the language that was requested; ``None`` if neither.
    ``duration`` is the audio length in seconds when the model reports it. ``neurons`` is what
    the call cost, from the ``cf-ai-neurons`` response header, when Workers AI sent one.
    """

    text: str
    model_id: str
    language: str | None = None
    words: tuple[Word, ...] = ()
    duration: float | None = None
    neurons: float | None = None


@dataclass(frozen=True, slots=True)
class TranscriptUpdate:
    """A streaming hypothesis from a WebSocket ASR session.

    ``text`` is the whole utterance heard so far (committed ``is_final`` segments plus the
    current interim segment), not a delta. ``is_final`` means every word of ``text`` is
    committed; ``end_of_turn`` means the model decided the speaker finished (flux ``EndOfTurn``,
    nova-3 ``speech_final``).
    """

    text: str
    is_final: bool
    end_of_turn: bool = False


@dataclass(frozen=True, slots=True)
class SynthesizedAudio:
    """Audio returned by a REST TTS call: the body bytes and their MIME type.

    ``content_type`` is ``audio/mpeg`` for MP3 (aura's default and melotts), ``audio/wav`` or
    ``audio/l16`` for linear16. ``sample_rate`` (Hz) is set when it is known without decoding.
    ``neurons`` is what the call cost (``cf-ai-neurons`` header), when Workers AI sent one.
    """

    audio: bytes
    content_type: str
    sample_rate: int | None = None
    neurons: float | None = None
