"""The home's vocabulary: ranking and Deepgram's limits, and that the hints reach the model
(client → emulator, real synthesized speech)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.wyoming_server.client_helpers import emulator_client
from wyoming_server.emulator import Emulator
from wyoming_server.workers_ai import WorkersAIClient, catalog
from wyoming_server.workers_ai.vocabulary import (
    MAX_KEYTERM_TOKENS,
    MAX_KEYTERMS,
    Source,
    Term,
    build_vocabulary,
    estimate_tokens,
    vocabulary_from_strings,
)

COMMAND = "Turn off the lights in the plantuary."


def test_terms_are_ranked_deduplicated_and_cut_to_deepgram_limits() -> None:
    terms = [Term(f"Device number {i}", Source.ENTITY) for i in range(300)]
    terms += [Term("Plantuary", Source.AREA), Term("plantuary ", Source.ENTITY)]
    terms += [Term("Réaltín's lamp", Source.USER), Term("REALTIN'S LAMP", Source.ALIAS)]
    vocab = build_vocabulary(terms)
    assert vocab.keyterms[:2] == ("Réaltín's lamp", "Plantuary")
    assert len(vocab.keyterms) <= MAX_KEYTERMS
    assert sum(estimate_tokens(t) for t in vocab.keyterms) <= MAX_KEYTERM_TOKENS
    assert len({t.casefold() for t in vocab.keyterms}) == len(vocab.keyterms)
    assert vocab.dropped == 302 - len(vocab.keyterms)
    assert vocab.initial_prompt is not None
    assert "Réaltín's lamp, Plantuary" in vocab.initial_prompt
    assert estimate_tokens(vocab.initial_prompt) <= 230


def test_a_name_many_things_carry_ranks_first_within_its_source() -> None:
    vocab = build_vocabulary(
        [Term("Snug", Source.AREA), Term("Oriel", Source.AREA), Term("oriel", Source.AREA)]
    )
    assert vocab.keyterms == ("Oriel", "Snug")


def test_request_options_per_model() -> None:
    vocab = vocabulary_from_strings(["plantuary", "", "  "])
    assert vocab.request_options(catalog.NOVA_3) == {"keyterms": ("plantuary",)}
    assert vocab.request_options(catalog.FLUX) == {"keyterms": ("plantuary",)}
    assert vocab.request_options(catalog.WHISPER_LARGE_V3_TURBO) == {
        "initial_prompt": "Home Assistant names: plantuary."
    }
    assert vocab.request_options(catalog.WHISPER) == {}
    assert vocabulary_from_strings([]).request_options(catalog.NOVA_3) == {}


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[WorkersAIClient]:
    async with aiohttp.ClientSession() as session:
        yield emulator_client(session, emulator, timeout=60.0)  # two cores, many test runs


@pytest.mark.parametrize(
    "model", [catalog.NOVA_3, catalog.WHISPER_LARGE_V3_TURBO], ids=lambda m: m[-6:]
)
async def test_the_vocabulary_reaches_the_model(client: WorkersAIClient, model: str) -> None:
    """Without hints the emulator's Whisper hears "plant you are"; the keyterm (nova-3) or the
    prompt (turbo) makes it write the area's name (flux: benchmarks/vocabulary.py)."""
    pcm = (await client.synthesize_pcm(catalog.AURA_2_EN, COMMAND, sample_rate=16000)).pcm
    vocab = vocabulary_from_strings(["plantuary", "kitchen west"])
    plain = await client.transcribe_pcm(model, pcm, 16000, language="en")
    hinted = await client.transcribe_pcm(
        model, pcm, 16000, language="en", **vocab.request_options(model)
    )
    assert "plantuary" not in plain.text.lower()
    assert "plantuary" in hinted.text.lower()
