"""Language tags: what Workers AI models speak, in the tags Home Assistant sends.

Home Assistant sends BCP-47 tags: a pipeline created like the default one (language ``en``,
country ``US``) stores ``en-US`` if an engine offers it, else ``en``; the pipeline editor and
``tts.speak`` pass whatever tag the user picked (``en``, ``en-GB``, ...). Every model here speaks
base languages (Whisper, aura, MeloTTS) or a few regional variants (nova-3), so each entity
offers the base tag plus its common regional tags, and the request to the model is mapped back
(https://github.com/home-assistant/core/blob/dev/homeassistant/util/language.py matches tags by
language, then region).
"""

from homeassistant.core import HomeAssistant
from homeassistant.generated.languages import LANGUAGES as HA_LANGUAGES

from wyoming_server.workers_ai import catalog
from wyoming_server.workers_ai.language_tags import base_language

from .const import LANGUAGE_AUTO

# Whisper and turbo detect the language when none is sent; nova-3 with "multi".
_AUTO_DETECT_MODELS = frozenset({catalog.WHISPER, catalog.WHISPER_LARGE_V3_TURBO, catalog.NOVA_3})

_REGIONS: dict[str, tuple[str, ...]] = {
    "en": ("US", "GB", "AU", "CA", "IE", "IN", "NZ", "ZA"),
    "es": ("ES", "MX", "US", "AR", "CO", "CL", "419"),
    "fr": ("FR", "CA", "BE", "CH"),
    "de": ("DE", "AT", "CH"),
    "pt": ("PT", "BR"),
    "it": ("IT", "CH"),
    "nl": ("NL", "BE"),
    "zh": ("CN", "TW", "HK", "Hans", "Hant"),
    "ja": ("JP",),
    "ko": ("KR",),
    "ru": ("RU",),
    "hi": ("IN",),
}
"""Regional tags offered next to a base language (besides Home Assistant's own UI tags)."""


def language_name(code: str) -> str:
    """``English`` for ``en``; ``English (en-GB)`` for a regional tag; the code if unknown."""
    name = catalog.LANGUAGE_NAMES.get(base_language(code))
    if name is None:
        return code
    return name if "-" not in code else f"{name} ({code})"


def base_languages(model: catalog.SpeechModel) -> list[str]:
    """The model's languages without regions, in catalog order (``en-GB`` → ``en``)."""
    return list(dict.fromkeys(base_language(code) for code in model.languages))


def language_tags(bases: list[str]) -> list[str]:
    """Every tag an entity speaking ``bases`` accepts: each base, then its regional tags.

    Regional tags are the common ones (:data:`_REGIONS`) plus Home Assistant's own UI languages
    of that base (``es-419``, ``zh-Hans``, ...), so any tag a pipeline stores for a household
    matches.
    """
    tags: list[str] = []
    for base in bases:
        tags.append(base)
        tags.extend(f"{base}-{region}" for region in _REGIONS.get(base, ()))
        tags.extend(sorted(t for t in HA_LANGUAGES if base_language(t) == base and t != base))
    return list(dict.fromkeys(tags))


def stt_language_options(model: catalog.SpeechModel) -> list[str]:
    """The choices of a speech-to-text subentry's language field: auto, then base languages."""
    auto = [LANGUAGE_AUTO] if model.model_id in _AUTO_DETECT_MODELS else []
    return auto + base_languages(model)


def stt_supported_languages(model: catalog.SpeechModel, setting: str) -> list[str]:
    """List the tags the STT entity advertises.

    Those of the pinned language, or of every language of the model with automatic detection.
    """
    if setting == LANGUAGE_AUTO:
        return language_tags(base_languages(model))
    return language_tags([base_language(setting)])


def stt_request_language(setting: str, requested: str) -> str | None:
    """The ``language`` to send to the model for a pipeline run in ``requested``.

    ``None`` means automatic detection: Whisper models get no language, nova-3 gets ``multi``.
    A tag goes as is; the client maps it to what the model takes (nova-3: the exact tag if it
    has it, else the base; Whisper: the base).
    """
    return None if setting == LANGUAGE_AUTO else requested


def household_language(hass: HomeAssistant, bases: list[str]) -> str | None:
    """The base language of ``bases`` that Home Assistant's language is, if any."""
    base = base_language(hass.config.language)
    return base if base in bases else None


def speaks(model: catalog.SpeechModel, hass: HomeAssistant) -> bool:
    """True when ``model`` speaks Home Assistant's language."""
    return base_language(hass.config.language) in base_languages(model)
