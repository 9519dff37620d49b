"""The Wyoming ``info`` answer, built once at start-up from the model catalog.

Home Assistant uses only the first ASR program and the first installed TTS program, never sends
an ASR model name, and shows a voice's ``description`` in its voice list
(``stt.py``, ``tts.py`` and ``data.py`` in
https://github.com/home-assistant/core/tree/dev/homeassistant/components/wyoming). So there is ONE
ASR program listing every ASR model, the server default first, and ONE TTS program listing every
voice, the default first. Fields newer than wyoming 1.7.2 are set only when the installed wyoming
has them; wyoming skips unknown fields either way (``Info.from_event`` in ``wyoming/info.py``,
https://github.com/OHF-Voice/wyoming).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from wyoming.info import AsrModel, AsrProgram, Attribution, Info, TtsProgram, TtsVoice

from .. import __version__
from ..workers_ai import catalog
from .settings import ServerSettings

ASR_PROGRAM_NAME = "workers-ai-stt"
TTS_PROGRAM_NAME = "workers-ai-tts"
_LOGGER = logging.getLogger(__name__)

VAD_FLAGS = (
    "requires_external_vad",
    "prefers_auto_gain_enabled",
    "prefers_noise_reduction_enabled",
)
"""The ASR flags of wyoming >= 1.10 (``AsrProgram`` in ``wyoming/info.py``,
https://github.com/OHF-Voice/wyoming)."""

CLOUDFLARE = Attribution(
    name="Cloudflare Workers AI", url="https://developers.cloudflare.com/workers-ai/"
)


def _if_supported(cls: type[Any], **values: Any) -> dict[str, Any]:
    """Only the ``values`` that ``cls`` (a wyoming info dataclass) has in this wyoming version."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {key: value for key, value in values.items() if key in names}


def asr_flags(model: catalog.SpeechModel) -> dict[str, bool]:
    """What ``model`` wants from the client's audio front end.

    Only flux ends the turn itself (Deepgram's ``EndOfTurn``,
    https://developers.deepgram.com/docs/flux/), so only flux declares
    ``requires_external_vad=False``; every other model needs the client's VAD to end the audio.
    Gain and noise reduction keep wyoming's defaults (True): no published evidence says a Workers
    AI model does better without them.
    """
    return {
        "requires_external_vad": model.model_id != catalog.FLUX,
        "prefers_auto_gain_enabled": True,
        "prefers_noise_reduction_enabled": True,
    }


def _supported_flags(cls: type[Any], model: catalog.SpeechModel) -> dict[str, Any]:
    """``asr_flags(model)`` that ``cls`` has; logs once per class the flags it cannot send."""
    flags = _if_supported(cls, **asr_flags(model))
    missing = [name for name in VAD_FLAGS if name not in flags]
    if missing and cls not in _LOGGED_MISSING:
        _LOGGED_MISSING.add(cls)
        _LOGGER.info(
            "The installed wyoming's %s has no %s: not sent in info",
            cls.__name__,
            ", ".join(missing),
        )
    return flags


_LOGGED_MISSING: set[type[Any]] = set()


def _attribution(model: catalog.SpeechModel) -> Attribution:
    return Attribution(name=model.vendor, url=model.vendor_url)


def _asr_model(model: catalog.SpeechModel) -> AsrModel:
    transport = (
        "WebSocket" if not model.rest else "REST" if not model.websocket else "REST/WebSocket"
    )
    return AsrModel(
        name=model.model_id,
        attribution=_attribution(model),
        installed=True,
        description=f"{model.display_name} ({model.vendor}, {transport})",
        version=None,
        languages=list(model.languages),
        # Per model where wyoming has the fields (1.10.2 has them only on AsrProgram).
        **_supported_flags(AsrModel, model),
    )


def _tts_voice(voice: catalog.Voice) -> TtsVoice:
    model = catalog.get_model(voice.model_id)
    return TtsVoice(
        name=voice.name,
        attribution=_attribution(model),
        installed=True,
        description=voice.description,
        version=None,
        languages=[voice.language],
        speakers=None,
    )


def build_info(settings: ServerSettings) -> Info:
    """Describe this server: every Workers AI ASR model and TTS voice.

    ``settings.stt_model`` and ``settings.tts_voice`` come first in their lists. Model and voice
    ``version`` stay ``None``: Workers AI does not version its models; the programs carry this
    server's version.
    """
    asr_models = sorted(catalog.ASR_MODELS, key=lambda m: m.model_id != settings.stt_model)
    voices = sorted(catalog.voices(), key=lambda v: v.name != settings.tts_voice)
    default_model = catalog.get_model(settings.stt_model)
    default_voice = catalog.get_voice(settings.tts_voice)
    return Info(
        asr=[
            AsrProgram(
                name=ASR_PROGRAM_NAME,
                attribution=CLOUDFLARE,
                installed=True,
                description=(
                    f"Cloudflare Workers AI speech-to-text (default {default_model.display_name})"
                ),
                version=__version__,
                models=[_asr_model(model) for model in asr_models],
                supports_transcript_streaming=True,
                # wyoming >= 1.10 (HA 2026.10 reads it, homeassistant/components/wyoming/stt.py):
                # HA uses only the default model, so the program carries ITS flags: flux ends
                # the turn itself, so HA must not cut the audio with its own VAD.
                **_supported_flags(AsrProgram, default_model),
            )
        ],
        tts=[
            TtsProgram(
                name=TTS_PROGRAM_NAME,
                attribution=CLOUDFLARE,
                installed=True,
                description=(
                    f"Cloudflare Workers AI text-to-speech (default {default_voice.description})"
                ),
                version=__version__,
                voices=[_tts_voice(voice) for voice in voices],
                supports_synthesize_streaming=True,
            )
        ],
    )
