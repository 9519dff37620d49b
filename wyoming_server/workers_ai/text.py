"""Splitting text for TTS requests that have a length limit.

Workers AI documents no text limit for its TTS models; Deepgram's upstream aura limits (2000
characters, https://developers.deepgram.com/docs/text-to-speech, once 1000 for aura-2) and what
public clients observed (600 for melotts) set the limits. Longer text is sent as several
requests, split at sentence ends (``sentence-stream``, the splitter Home Assistant and
wyoming-piper use), then at spaces, and only as a last resort inside a word.
"""

from __future__ import annotations

from sentence_stream import stream_to_sentences


def split_text(text: str, max_chars: int) -> list[str]:
    """Split ``text`` into pieces of at most ``max_chars`` characters, keeping sentences whole
    where they fit. Whitespace between pieces is dropped; empty text gives ``[]``.

    Raises:
        ValueError: ``max_chars`` < 1.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    text = text.strip()
    if len(text) <= max_chars:
        return [text] if text else []
    pieces: list[str] = []
    current = ""
    for sentence in stream_to_sentences([text]):
        for part in _split_long(sentence.strip(), max_chars):
            if current and len(current) + 1 + len(part) <= max_chars:
                current = f"{current} {part}"
            else:
                if current:
                    pieces.append(current)
                current = part
    if current:
        pieces.append(current)
    return pieces


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """A sentence longer than ``max_chars`` split at spaces (inside words if it must be)."""
    if len(sentence) <= max_chars:
        return [sentence] if sentence else []
    parts: list[str] = []
    current = ""
    for whole_word in sentence.split():
        word = whole_word
        while len(word) > max_chars:
            if current:
                parts.append(current)
                current = ""
            parts.append(word[:max_chars])
            word = word[max_chars:]
        if current and len(current) + 1 + len(word) <= max_chars:
            current = f"{current} {word}"
        elif word:
            if current:
                parts.append(current)
            current = word
    if current:
        parts.append(current)
    return parts
