"""What speech recognition returns in the emulator: words, segments, transcripts, options.

Shared by the real Whisper path (:mod:`.asr`) and load mode (:mod:`.load_mode`), so neither
imports the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Word:
    """A recognised word: ``word`` as Whisper wrote it (stripped, punctuated, cased), ``start``
    and ``end`` in seconds, ``probability`` in [0, 1]."""

    word: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Segment:
    """A Whisper segment (times in seconds, decoder statistics as faster-whisper reports)."""

    start: float
    end: float
    text: str
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Transcript:
    """A transcription: ``text`` (stripped), its segments, the language and durations (s)."""

    text: str
    segments: tuple[Segment, ...]
    language: str
    language_probability: float
    duration: float
    duration_after_vad: float

    @property
    def words(self) -> list[Word]:
        """All words of all segments, in order."""
        return [word for segment in self.segments for word in segment.words]

    @property
    def confidence(self) -> float:
        """Mean word probability (0.0 without words)."""
        words = self.words
        return sum(w.probability for w in words) / len(words) if words else 0.0


def join_transcripts(parts: list[Transcript]) -> Transcript:
    """Consecutive transcripts as one: texts joined with spaces, segments and durations summed
    (segment and word times stay relative to each part's own audio)."""
    return Transcript(
        text=" ".join(part.text for part in parts if part.text),
        segments=tuple(segment for part in parts for segment in part.segments),
        language="en",
        language_probability=min((part.language_probability for part in parts), default=1.0),
        duration=sum(part.duration for part in parts),
        duration_after_vad=sum(part.duration_after_vad for part in parts),
    )


@dataclass(frozen=True)
class Options:
    """Decoding options (whisper-large-v3-turbo input fields,
    https://developers.cloudflare.com/workers-ai/models/whisper-large-v3-turbo/; ``hotwords``
    for Deepgram keyterms). ``beam_size`` defaults to 1 (greedy) for speed on two cores."""

    language: str | None = None
    task: str = "transcribe"
    beam_size: int = 1
    initial_prompt: str | None = None
    prefix: str | None = None
    vad_filter: bool = False
    condition_on_previous_text: bool = True
    no_speech_threshold: float = 0.6
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    hallucination_silence_threshold: float | None = None
    hotwords: tuple[str, ...] = field(default_factory=tuple)
