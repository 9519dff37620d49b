"""Pick the TTS voice for a ``synthesize`` request.

Home Assistant sends ``voice.name`` (the advertised name) and maybe ``voice.speaker``, or no
voice at all (https://github.com/home-assistant/core/blob/dev/homeassistant/components/wyoming/tts.py);
``voice.language`` arrives only without a name (``SynthesizeVoice.to_dict`` in ``wyoming/tts.py``,
https://github.com/OHF-Voice/wyoming). Accepted, in order:

1. a voice name from ``info`` (``aura-2-en-luna``, ``melotts-fr``), optionally with a
   ``speaker`` of the same model that replaces the voice's speaker;
2. a TTS model (``aura-2-en`` or ``@cf/deepgram/aura-2-en``) with an optional speaker (aura)
   or language (melotts), else the model's default speaker / first language;
3. no name: a ``speaker`` of any aura model (the default voice's model first), else a
   ``language`` (the default voice if it speaks it, else the first voice that does), else the
   server's default voice.
"""

from __future__ import annotations

from ..workers_ai import catalog
from ..workers_ai.language_tags import base_language
from .protocol import VoiceRequest
from .request_errors import UNKNOWN_VOICE, BadRequestError


def _unknown(what: str) -> BadRequestError:
    return BadRequestError(f"Unknown voice: {what}", UNKNOWN_VOICE)


def _with_speaker(voice: catalog.Voice, speaker: str | None) -> catalog.Voice:
    if speaker is None or speaker == voice.speaker:
        return voice
    model = catalog.get_model(voice.model_id)
    if not model.speakers:  # melotts has no speakers: the speaker is meaningless, keep the voice
        return voice
    if speaker.lower() not in model.speakers:
        raise _unknown(f"{model.model_id} has no speaker '{speaker}'")
    return catalog.Voice(voice.model_id, speaker.lower(), voice.language)


def _model_voice(model: catalog.SpeechModel, request: VoiceRequest) -> catalog.Voice:
    if model.speakers:
        return _with_speaker(
            catalog.Voice(model.model_id, model.default_speaker, model.languages[0]),
            request.speaker,
        )
    language = base_language(request.language) if request.language else model.languages[0]
    if language not in model.languages:
        raise _unknown(f"{model.model_id} does not speak '{request.language}'")
    return catalog.Voice(model.model_id, None, language)


def resolve_voice(request: VoiceRequest, default_voice: str) -> catalog.Voice:
    """The catalog voice for ``request`` (see module docstring for the rules).

    Raises:
        BadRequestError: code ``unknown-voice`` for a name, speaker or language no voice has.
    """
    default = catalog.get_voice(default_voice)
    if request.name is not None:
        try:
            return _with_speaker(catalog.get_voice(request.name), request.speaker)
        except KeyError:
            pass
        try:
            model = catalog.get_model(request.name)
        except KeyError:
            raise _unknown(f"'{request.name}'") from None
        if model.task is not catalog.Task.TTS:
            raise _unknown(f"'{request.name}' is not a text-to-speech model")
        return _model_voice(model, request)
    if request.speaker is not None:
        speaker = request.speaker.lower()
        models = sorted(catalog.TTS_MODELS, key=lambda m: m.model_id != default.model_id)
        for model in models:
            if speaker in model.speakers:
                return catalog.Voice(model.model_id, speaker, model.languages[0])
        raise _unknown(f"no model has speaker '{request.speaker}'")
    if request.language is not None:
        language = base_language(request.language)
        if default.language == language:
            return default
        for voice in catalog.voices():
            model = catalog.get_model(voice.model_id)
            if voice.language == language and voice.speaker in (None, model.default_speaker):
                return voice
        raise _unknown(f"no voice speaks '{request.language}'")
    return default
