"""Language tags as each Workers AI speech model takes them."""

from __future__ import annotations

from .catalog import NOVA3_LANGUAGES

_ALIASES = {"nb": "no"}
"""Home Assistant's Norwegian is Bokmål (``nb``); Whisper knows it as ``no``
(https://github.com/openai/whisper/blob/main/whisper/tokenizer.py)."""


def base_language(language: str) -> str:
    """``en-US`` / ``en_US`` / ``EN`` → ``en``; ``nb-NO`` → ``no`` (ISO 639-1, as Whisper and
    MeloTTS expect); ``""`` for an empty tag."""
    base = language.strip().replace("_", "-").split("-", 1)[0].lower()
    return _ALIASES.get(base, base)


def nova3_language(language: str | None) -> str | None:
    """Map a BCP-47 tag to one nova-3 accepts, or ``None``.

    Exact tags win (``en-GB``), then the base language (``de-AT`` → ``de``); ``None`` means
    "not supported": callers then leave the language to nova-3's automatic detection. The list:
    https://developers.cloudflare.com/workers-ai/models/nova-3/ (``language`` parameter).
    """
    if not language:
        return None
    tag = language.replace("_", "-")
    by_folded = {code.casefold(): code for code in NOVA3_LANGUAGES}
    if tag.casefold() in by_folded:
        return by_folded[tag.casefold()]
    return by_folded.get(base_language(tag))
