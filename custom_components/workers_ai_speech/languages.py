"""Which languages each Workers AI speech model offers Home Assistant.

Model languages come from the shared catalog (``wyoming_server.workers_ai.catalog``, which cites
workers-ai-speech-api.md §4 and §5). A speech-to-text subentry either pins one language or lets
the model detect it (:data:`LANGUAGE_AUTO`), where the model can.
"""

from homeassistant.core import HomeAssistant
from homeassistant.util import language as language_util

from wyoming_server.workers_ai import catalog

from .const import LANGUAGE_AUTO

# Whisper and turbo detect the language when none is sent (§4.1, §4.3); nova-3 with "multi".
_AUTO_DETECT_MODELS = frozenset({catalog.WHISPER, catalog.WHISPER_LARGE_V3_TURBO, catalog.NOVA_3})


def stt_language_options(model: catalog.SpeechModel) -> list[str]:
    """Return the choices of a speech-to-text subentry's language field."""
    auto = [LANGUAGE_AUTO] if model.model_id in _AUTO_DETECT_MODELS else []
    return auto + list(model.languages)


def stt_supported_languages(model: catalog.SpeechModel, setting: str) -> list[str]:
    """Return the languages the STT entity advertises to Assist pipelines.

    A pinned language is the only one; with automatic detection every language of the model is.
    """
    if setting == LANGUAGE_AUTO:
        return list(model.languages)
    return [setting]


def stt_request_language(setting: str, requested: str) -> str | None:
    """Return the ``language`` to send to the model for a pipeline run in ``requested``.

    ``None`` means automatic detection: Whisper models get no language, nova-3 gets ``multi``
    (the client's mapping, workers-ai-speech-api.md §4.3-4.5).
    """
    return None if setting == LANGUAGE_AUTO else requested


def default_language(hass: HomeAssistant, languages: list[str]) -> str:
    """Return the best match of Home Assistant's language among ``languages`` (else the first)."""
    matches = language_util.matches(hass.config.language, languages, hass.config.country)
    return matches[0] if matches else languages[0]
