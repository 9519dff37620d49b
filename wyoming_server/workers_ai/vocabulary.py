"""A home's vocabulary for speech recognition: Deepgram ``keyterm``s and a Whisper prompt.

Names of devices, areas and floors ("Réaltín's lamp", "the plantuary") are what generic speech
models get wrong, and what a voice command depends on. Two models take hints:

- nova-3 (REST and WebSocket) and flux take repeated ``keyterm`` query parameters: at most 100
  terms and about 500 tokens in all (https://developers.deepgram.com/docs/keyterm). Workers AI
  passes them through (https://developers.cloudflare.com/workers-ai/models/nova-3/,
  https://developers.cloudflare.com/workers-ai/models/flux/). nova-3 rejects them with
  multilingual routing; the client then leaves them out.
- whisper-large-v3-turbo takes an ``initial_prompt`` that primes the decoder
  (https://developers.cloudflare.com/workers-ai/models/whisper-large-v3-turbo/); Whisper keeps
  at most the last 223 prompt tokens (https://github.com/openai/whisper, ``decoding.py``).

The other Whisper models take no hint. Terms are ranked (a user's own list first, then areas,
floors and device names, a name shared by more things first) and cut to the limits; token counts
are estimated (about 4 characters per token, at least one per word) since Deepgram's tokenizer
is not public.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

from .catalog import FLUX, NOVA_3, WHISPER_LARGE_V3_TURBO

MAX_KEYTERMS: Final = 100
"""Most ``keyterm`` parameters one request takes (Deepgram keyterm prompting limit)."""

MAX_KEYTERM_TOKENS: Final = 500
"""Token budget of all ``keyterm``s together (Deepgram keyterm prompting limit)."""

MAX_PROMPT_TOKENS: Final = 200
"""Tokens of ``initial_prompt`` kept (Whisper keeps the last 223; a margin for its markers)."""

MAX_TERM_CHARS: Final = 60
"""Longer names are not useful hints (and cost many tokens): skipped."""

PROMPT_PREFIX: Final = "Home Assistant names: "


class Source(IntEnum):
    """Where a term comes from; lower ranks first."""

    USER = 0
    AREA = 1
    FLOOR = 2
    ENTITY = 3
    ALIAS = 4


@dataclass(frozen=True, slots=True)
class Term:
    """One name to boost, with where it came from."""

    text: str
    source: Source = Source.USER


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The terms sent to the models: ``keyterms`` (ranked, cut to Deepgram's limits) and the
    turbo ``initial_prompt`` (``None`` when there are no terms). ``dropped`` counts terms cut."""

    keyterms: tuple[str, ...] = ()
    initial_prompt: str | None = None
    dropped: int = 0

    def request_options(self, model_id: str) -> dict[str, Any]:
        """Keyword arguments for ``WorkersAIClient.transcribe_pcm`` / ``listen`` for
        ``model_id``: ``keyterms`` for nova-3 and flux, ``initial_prompt`` for turbo, none for
        the other Whisper models."""
        if model_id in (NOVA_3, FLUX) and self.keyterms:
            return {"keyterms": self.keyterms}
        if model_id == WHISPER_LARGE_V3_TURBO and self.initial_prompt:
            return {"initial_prompt": self.initial_prompt}
        return {}

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view (diagnostics)."""
        return {
            "keyterms": list(self.keyterms),
            "initial_prompt": self.initial_prompt,
            "dropped": self.dropped,
        }


def estimate_tokens(text: str) -> int:
    """Rough token count of ``text``: one per 4 characters, at least one per word."""
    return max(len(text.split()), math.ceil(len(text) / 4))


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a name (for de-duplication and matching)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join(
        "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split()
    )


def clean(text: str) -> str:
    """A term as sent: whitespace collapsed; empty when it is no useful hint."""
    term = " ".join(str(text).split())
    if not term or len(term) > MAX_TERM_CHARS or not any(c.isalpha() for c in term):
        return ""
    return term


def rank_terms(terms: Iterable[Term]) -> list[str]:
    """Unique terms, best first: by source (user, area, floor, device, alias), then by how
    many things carry the name, then shorter first, then alphabetically (stable output)."""
    best: dict[str, tuple[Source, int, str]] = {}
    for term in terms:
        text = clean(term.text)
        if not text:
            continue
        key = fold(text)
        source, count, first = best.get(key, (term.source, 0, text))
        best[key] = (min(source, term.source), count + 1, first)
    ordered = sorted(best.values(), key=lambda v: (v[0], -v[1], len(v[2]), fold(v[2])))
    return [text for _, _, text in ordered]


def build_vocabulary(
    terms: Iterable[Term],
    *,
    max_keyterms: int = MAX_KEYTERMS,
    max_tokens: int = MAX_KEYTERM_TOKENS,
    max_prompt_tokens: int = MAX_PROMPT_TOKENS,
) -> Vocabulary:
    """Rank ``terms`` and cut them to the keyterm and prompt budgets (see module docstring)."""
    ranked = rank_terms(terms)
    keyterms: list[str] = []
    used = 0
    for text in ranked:
        cost = estimate_tokens(text)
        if len(keyterms) >= max_keyterms or used + cost > max_tokens:
            continue
        keyterms.append(text)
        used += cost
    prompt_terms: list[str] = []
    used = estimate_tokens(PROMPT_PREFIX)
    for text in ranked:
        cost = estimate_tokens(text) + 1  # the separating comma
        if used + cost > max_prompt_tokens:
            continue
        prompt_terms.append(text)
        used += cost
    prompt = PROMPT_PREFIX + ", ".join(prompt_terms) + "." if prompt_terms else None
    return Vocabulary(tuple(keyterms), prompt, len(ranked) - len(keyterms))


def vocabulary_from_strings(texts: Iterable[str]) -> Vocabulary:
    """The vocabulary of a plain list of names (a user's list, ``--keyterm``)."""
    return build_vocabulary(Term(text) for text in texts)
