"""The one mapping of language tags, shared by the server, the doctor and the component."""

from __future__ import annotations

import pytest

from wyoming_server.workers_ai import catalog
from wyoming_server.workers_ai.language_tags import base_language, nova3_language
from wyoming_server.workers_ai.usage import RATES, Transport


@pytest.mark.parametrize(
    ("tag", "base"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("en_us", "en"),
        ("EN", "en"),
        (" de-AT ", "de"),
        ("zh-Hans", "zh"),
        ("nb", "no"),
        ("nb-NO", "no"),
        ("nb_NO", "no"),
        ("no", "no"),
        ("nn", "nn"),
        ("", ""),
    ],
)
def test_base_language(tag: str, base: str) -> None:
    assert base_language(tag) == base


@pytest.mark.parametrize(
    ("tag", "nova3"),
    [("en-GB", "en-GB"), ("en_gb", "en-GB"), ("de-AT", "de"), ("sv", None), ("", None)],
)
def test_nova3_language(tag: str, nova3: str | None) -> None:
    assert nova3_language(tag) == nova3


def test_every_catalog_language_has_a_name() -> None:
    """The one table of names (the component's pickers and voice names use it)."""
    bases = {base_language(code) for model in catalog.MODELS.values() for code in model.languages}
    assert bases - set(catalog.LANGUAGE_NAMES) == set()


def test_the_stt_fallback_is_an_asr_model_that_speaks_every_whisper_language() -> None:
    model = catalog.get_model(catalog.STT_FALLBACK_MODEL)
    assert model.task is catalog.Task.ASR
    assert set(catalog.WHISPER_LANGUAGES) <= set(model.languages)


def test_melotts_offers_only_what_workers_ai_accepts() -> None:
    """Workers AI answers MeloTTS ``es``/``fr`` with 404/8002 (see catalog.MELOTTS_LANGUAGES)."""
    assert catalog.get_model(catalog.MELOTTS).languages == ("en", "zh", "ja", "ko")


def test_usage_rates_are_the_catalog_prices() -> None:
    """The usage meter's neurons per unit come from the catalog, transport by transport."""
    for model in catalog.MODELS.values():
        if model.price is None:
            continue
        ws = model.price.websocket_neurons or model.price.neurons
        if model.rest:
            assert RATES[(model.model_id, Transport.REST)].neurons == model.price.neurons
        if model.websocket:
            assert RATES[(model.model_id, Transport.WEBSOCKET)].neurons == ws
    # Cloudflare's list (https://developers.cloudflare.com/workers-ai/platform/pricing/).
    assert str(catalog.get_model(catalog.NOVA_3).price) == (
        "$0.0052 per audio minute (WebSocket $0.0092)"
    )
