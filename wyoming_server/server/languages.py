"""Map the language tags Home Assistant sends to what each Workers AI model accepts.

HA sends the exact string it was offered, BCP-47 or ISO 639-1 with ``-`` or ``_``
(https://github.com/home-assistant/core/blob/dev/homeassistant/components/wyoming/stt.py).
Whisper takes ISO 639-1 codes, nova-3 BCP-47 tags from its list, flux and whisper-tiny-en only
English (https://developers.cloudflare.com/workers-ai/models/). The client turns a tag into
each model's own form; this module decides whether a model can do the language at all.
"""

from __future__ import annotations

from ..workers_ai import catalog
from ..workers_ai.language_tags import base_language
from .request_errors import UNSUPPORTED_LANGUAGE, BadRequestError


def normalize(tag: str) -> str:
    """``en_us`` → ``en-US``: ``-`` separators, lower-case language, upper-case 2-letter region."""
    parts = [part for part in tag.strip().replace("_", "-").split("-") if part]
    if not parts:
        return ""
    parts[0] = parts[0].lower()
    return "-".join([parts[0], *(p.upper() if len(p) == 2 else p for p in parts[1:])])


def supports(model: catalog.SpeechModel, tag: str) -> bool:
    """Whether ``model`` can transcribe the language of ``tag`` (region ignored)."""
    return base_language(tag) in {base_language(code) for code in model.languages}


def check_language(model: catalog.SpeechModel, tag: str) -> str:
    """Return ``tag`` normalized when ``model`` can transcribe its language.

    The client maps the tag to each model's own form (nova-3 keeps listed region variants,
    Whisper takes ISO 639-1); here only the language itself is checked, so HA never gets
    English text for German speech from an English-only model without being told.

    Raises:
        BadRequestError: code ``unsupported-language`` when the model lacks the language.
    """
    if supports(model, tag):
        return normalize(tag)
    raise BadRequestError(
        f"{model.model_id} does not support language '{tag}'", UNSUPPORTED_LANGUAGE
    )
