"""Cloudflare Workers AI speech client: REST calls, WebSocket sessions, model catalog, errors.

Imports neither ``wyoming`` nor ``homeassistant``; the caller injects an
:class:`aiohttp.ClientSession`. Used by the Wyoming server, the doctor and the Home Assistant
component.

May import: the standard library, ``aiohttp``, ``numpy``/``av`` (lazily) and its own modules;
never ``wyoming``, ``homeassistant`` or another subpackage of :mod:`wyoming_server`.
"""

from . import audio, catalog, errors
from .catalog import SpeechModel, Voice, get_model, get_voice, voices
from .client import DEFAULT_API_BASE_URL, WorkersAIClient, nova3_language
from .errors import WorkersAIError
from .listen import FluxSession, ListenSession, Nova3Session
from .results import SynthesizedAudio, Transcription, TranscriptUpdate, Word
from .speak import SpeakSession

__all__ = [
    "DEFAULT_API_BASE_URL",
    "FluxSession",
    "ListenSession",
    "Nova3Session",
    "SpeakSession",
    "SpeechModel",
    "SynthesizedAudio",
    "TranscriptUpdate",
    "Transcription",
    "Voice",
    "Word",
    "WorkersAIClient",
    "WorkersAIError",
    "audio",
    "catalog",
    "errors",
    "get_model",
    "get_voice",
    "nova3_language",
    "voices",
]
