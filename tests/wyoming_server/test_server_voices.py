"""Voice and language resolution: what a ``synthesize``/``transcribe`` request is mapped to.

Pure functions over the model catalog, so they are tested directly; the end-to-end tests cover
the events around them.
"""

from __future__ import annotations

import pytest

from wyoming_server.server.languages import check_language, normalize
from wyoming_server.server.protocol import VoiceRequest
from wyoming_server.server.request_errors import BadRequestError
from wyoming_server.server.voices import resolve_voice
from wyoming_server.workers_ai import catalog

DEFAULT = "aura-2-en-luna"


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (VoiceRequest(), ("@cf/deepgram/aura-2-en", "luna", "en")),
        (VoiceRequest(name="aura-1-zeus"), ("@cf/deepgram/aura-1", "zeus", "en")),
        (VoiceRequest(name="melotts-zh"), ("@cf/myshell-ai/melotts", None, "zh")),
        # A speaker of the same model replaces the voice's speaker; melotts has none.
        (
            VoiceRequest(name="aura-2-en-luna", speaker="Orion"),
            ("@cf/deepgram/aura-2-en", "orion", "en"),
        ),
        (VoiceRequest(name="melotts-ko", speaker="x"), ("@cf/myshell-ai/melotts", None, "ko")),
        # A model instead of a voice: its default speaker or the requested language.
        (VoiceRequest(name="aura-2-es"), ("@cf/deepgram/aura-2-es", "aquila", "es")),
        (
            VoiceRequest(name="@cf/deepgram/aura-1", speaker="stella"),
            ("@cf/deepgram/aura-1", "stella", "en"),
        ),
        (VoiceRequest(name="melotts", language="ja"), ("@cf/myshell-ai/melotts", None, "ja")),
        # No name: a speaker (default model first), or a language.
        (VoiceRequest(speaker="zeus"), ("@cf/deepgram/aura-2-en", "zeus", "en")),
        (VoiceRequest(speaker="angus"), ("@cf/deepgram/aura-1", "angus", "en")),
        (VoiceRequest(language="en-US"), ("@cf/deepgram/aura-2-en", "luna", "en")),
        (VoiceRequest(language="es_MX"), ("@cf/deepgram/aura-2-es", "aquila", "es")),
        (VoiceRequest(language="ja-JP"), ("@cf/myshell-ai/melotts", None, "ja")),
    ],
)
def test_resolve_voice(request_: VoiceRequest, expected: tuple[str, str | None, str]) -> None:
    voice = resolve_voice(request_, DEFAULT)
    assert (voice.model_id, voice.speaker, voice.language) == expected


@pytest.mark.parametrize(
    "request_",
    [
        VoiceRequest(name="nobody"),
        VoiceRequest(name="aura-2-en-nobody"),
        VoiceRequest(name="aura-2-en-luna", speaker="sirio"),  # an aura-2-es speaker
        VoiceRequest(name="@cf/openai/whisper"),  # not a TTS model
        VoiceRequest(name="melotts", language="de"),
        # Workers AI refuses MeloTTS Spanish and French (404/8002): no such voices.
        VoiceRequest(name="melotts-es"),
        VoiceRequest(name="melotts-fr"),
        VoiceRequest(name="melotts", language="fr"),
        VoiceRequest(language="fr"),
        VoiceRequest(speaker="nobody"),
        VoiceRequest(language="tlh"),
    ],
)
def test_unknown_voices_are_rejected(request_: VoiceRequest) -> None:
    with pytest.raises(BadRequestError) as err:
        resolve_voice(request_, DEFAULT)
    assert err.value.code == "unknown-voice"


def test_every_advertised_voice_is_accepted_back() -> None:
    """HA sends back exactly the names from info (doc §2.4)."""
    for voice in catalog.voices():
        assert resolve_voice(VoiceRequest(name=voice.name), DEFAULT) == voice


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("en_us", "en-US"), ("EN-gb", "en-GB"), ("es-419", "es-419"), ("de", "de")],
)
def test_normalize_language(tag: str, expected: str) -> None:
    assert normalize(tag) == expected


def test_check_language() -> None:
    nova3 = catalog.get_model("nova-3")
    assert check_language(nova3, "en_GB") == "en-GB"
    assert check_language(nova3, "de-AT") == "de-AT"  # the client maps it to nova-3's "de"
    assert check_language(catalog.get_model("whisper"), "yue") == "yue"
    for model, tag in (("flux", "de"), ("whisper-tiny-en", "fr"), ("nova-3", "ko")):
        with pytest.raises(BadRequestError) as err:
            check_language(catalog.get_model(model), tag)
        assert err.value.code == "unsupported-language"
