"""Response bodies built from a :class:`~.transcript.Transcript`, one shape per model family.

Shapes: the output schemas of whisper / whisper-tiny-en, whisper-large-v3-turbo, nova-3 (Deepgram
pre-recorded / listen v1 alternatives) and flux (TurnInfo words) on
https://developers.cloudflare.com/workers-ai/models/<name>/. Times in seconds.
"""

from __future__ import annotations

import re
from typing import Any

from .transcript import Transcript, Word

_PUNCTUATION = re.compile(r"[^\w'\u2019-]+", re.UNICODE)


def vtt(transcript: Transcript) -> str:
    """The transcript as WebVTT (one cue per segment)."""
    lines = ["WEBVTT", ""]
    for segment in transcript.segments:
        lines.append(f"{_timestamp(segment.start)} --> {_timestamp(segment.end)}")
        lines.append(segment.text)
        lines.append("")
    return "\n".join(lines)


def _timestamp(seconds: float) -> str:
    millis = round(max(0.0, seconds) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def whisper_result(transcript: Transcript) -> dict[str, Any]:
    """``{text, word_count, words[{word,start,end}], vtt}`` (whisper's output schema)."""
    words = transcript.words
    return {
        "text": transcript.text,
        "word_count": len(words) if words else len(transcript.text.split()),
        "words": [{"word": w.word, "start": w.start, "end": w.end} for w in words],
        "vtt": vtt(transcript),
    }


def whisper_turbo_result(transcript: Transcript) -> dict[str, Any]:
    """``{transcription_info, text, word_count, segments[...words[]], vtt}`` (turbo's output
    schema)."""
    words = transcript.words
    return {
        "transcription_info": {
            "language": transcript.language,
            "language_probability": transcript.language_probability,
            "duration": transcript.duration,
            "duration_after_vad": transcript.duration_after_vad,
        },
        "text": transcript.text,
        "word_count": len(words) if words else len(transcript.text.split()),
        "segments": [
            {
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "temperature": s.temperature,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": s.compression_ratio,
                "no_speech_prob": s.no_speech_prob,
                "words": [{"word": w.word, "start": w.start, "end": w.end} for w in s.words],
            }
            for s in transcript.segments
        ],
        "vtt": vtt(transcript),
    }


def plain_word(word: str) -> str:
    """Deepgram's unpunctuated lower-case ``word`` for a punctuated Whisper word."""
    return _PUNCTUATION.sub("", word).lower()


def deepgram_alternative(
    words: list[Word], *, punctuate: bool, offset: float = 0.0, language: str | None = None
) -> dict[str, Any]:
    """One Deepgram ``alternatives[]`` entry: ``{transcript, confidence, words[...]}``.

    Without ``punctuate`` (Deepgram ``punctuate``/``smart_format``) the transcript is lower-case
    without punctuation and words carry no ``punctuated_word``. ``offset`` (s) shifts times to
    the stream's clock.
    """
    out_words: list[dict[str, Any]] = []
    for w in words:
        plain = plain_word(w.word)
        if not plain:
            continue
        entry: dict[str, Any] = {
            "word": plain,
            "start": round(w.start + offset, 3),
            "end": round(w.end + offset, 3),
            "confidence": w.probability,
        }
        if punctuate:
            entry["punctuated_word"] = w.word
        if language:
            entry["language"] = language
        out_words.append(entry)
    if punctuate:
        _ensure_sentence(out_words)
        transcript = " ".join(w["punctuated_word"] for w in out_words)
    else:
        transcript = " ".join(w["word"] for w in out_words)
    confidence = (
        round(sum(w["confidence"] for w in out_words) / len(out_words), 4) if out_words else 0.0
    )
    alternative: dict[str, Any] = {
        "transcript": transcript,
        "confidence": confidence,
        "words": out_words,
    }
    if language:
        alternative["languages"] = [language]
    return alternative


def _ensure_sentence(words: list[dict[str, Any]]) -> None:
    """Deepgram punctuation always capitalises and ends a sentence; Whisper prompted with
    keyterms (hotwords) sometimes does not, so fix the first and last word."""
    if not words:
        return
    first = words[0]["punctuated_word"]
    words[0]["punctuated_word"] = first[:1].upper() + first[1:]
    last = words[-1]["punctuated_word"]
    if last[-1:] not in (".", "?", "!"):
        words[-1]["punctuated_word"] = last.rstrip(",;:") + "."


def flux_words(words: list[Word]) -> list[dict[str, Any]]:
    """Flux ``words[{word, confidence}]`` (punctuated, cased; flux's output schema)."""
    return [{"word": w.word, "confidence": w.probability} for w in words]
