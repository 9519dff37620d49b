"""Splitting long TTS text into requests the models accept."""

from __future__ import annotations

import pytest

from wyoming_server.workers_ai.text import split_text

STORY = (
    "The living room lamp is now on. The kitchen lights are still off, and the front door is "
    "locked. Is there anything else you would like me to do? I can also start the robot "
    "vacuum, which finished its last run at noon."
)


@pytest.mark.parametrize("limit", [20, 40, 60, 100, 1000])
def test_pieces_fit_and_keep_every_word_in_order(limit: int) -> None:
    pieces = split_text(STORY, limit)
    assert all(0 < len(piece) <= limit for piece in pieces)
    assert " ".join(pieces).split() == STORY.split()


def test_sentences_stay_whole_when_they_fit() -> None:
    pieces = split_text(STORY, 100)
    assert pieces[0].startswith("The living room lamp is now on.")
    assert all(piece.endswith((".", "?")) for piece in pieces)
    # short sentences are packed together rather than sent one by one
    assert split_text("One. Two. Three.", 100) == ["One. Two. Three."]


def test_short_or_empty_text() -> None:
    assert split_text("  Hello.  ", 100) == ["Hello."]
    assert split_text("   ", 100) == []


def test_a_word_longer_than_the_limit_is_cut() -> None:
    assert split_text("x" * 25 + " yy", 10) == ["x" * 10, "x" * 10, "xxxxx yy"]


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        split_text("text", 0)
