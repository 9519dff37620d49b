"""The emulator's streamed synthesis speaks a long sentence clause by clause, as aura streams."""

from __future__ import annotations

from wyoming_server.emulator import tts

LONG_SENTENCE = (
    "Your list holds "
    + ", ".join(f"the item number {n} for the living room" for n in range(1, 34))
    + "."
)


def test_a_long_sentence_is_cut_after_commas_and_nothing_is_lost() -> None:
    pieces = tts._clauses(LONG_SENTENCE)
    assert " ".join(pieces) == LONG_SENTENCE
    assert len(pieces) > 1
    assert max(len(p) for p in pieces) <= tts.STREAM_CLAUSE_CHARS
    assert tts._clauses("Hello there. How are you?") == ["Hello there. How are you?"]


async def test_a_long_sentence_streams_one_piece_per_clause() -> None:
    """Audio comes per clause, so the first audio waits for one clause's synthesis only."""
    pieces = [pcm async for pcm in tts.synthesize_stream(LONG_SENTENCE, 1.0)]
    assert len(pieces) == len(tts._clauses(LONG_SENTENCE))
    assert all(pieces)
