"""The catalog's and the emulator's model facts against the published schemas.

``tests/data/schemas/*.json`` quote Cloudflare's model schemas and pages (each file names its
public URL), and for MeloTTS and flux the 2026 live observations that override them. Neither the
client nor the emulator may invent a speaker, default or language tag: a typo in one copy fails
here, not in a user's living room.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wyoming_server.emulator import schemas as emulator_schemas
from wyoming_server.emulator.rest_asr import NOVA_3_LANGUAGES as EMULATOR_NOVA3_LANGUAGES
from wyoming_server.emulator.rest_tts import MELOTTS_REFUSED as EMULATOR_MELOTTS_REFUSED
from wyoming_server.workers_ai import catalog

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"
AURA = ["aura-1", "aura-2-en", "aura-2-es"]


def schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / f"{name}.json").read_text())
    return data


def test_every_schema_file_names_its_public_source() -> None:
    for path in SCHEMAS.glob("*.json"):
        data = json.loads(path.read_text())
        assert data["page"].startswith("https://developers.cloudflare.com/workers-ai/models/")
        assert data["schema"].startswith("https://github.com/cloudflare/"), path.name
        assert data["model"] in catalog.MODELS, path.name


@pytest.mark.parametrize("name", AURA)
def test_catalog_aura_speakers_and_default_are_the_published_ones(name: str) -> None:
    published = schema(name)
    model = catalog.get_model(published["model"])
    assert list(model.speakers) == published["speaker"]["enum"]
    assert model.default_speaker == published["speaker"]["default"]


@pytest.mark.parametrize("name", AURA)
def test_emulator_aura_speakers_and_default_are_the_published_ones(name: str) -> None:
    published = schema(name)
    assert list(emulator_schemas.speakers(published["model"])) == published["speaker"]["enum"]
    assert emulator_schemas.default_speaker(published["model"]) == published["speaker"]["default"]


def test_catalog_nova3_languages_are_the_published_tags() -> None:
    published = schema("nova-3")["languages"]
    assert list(catalog.get_model(catalog.NOVA_3).languages) == published
    assert "multi" not in catalog.get_model(catalog.NOVA_3).languages


def test_emulator_nova3_languages_are_the_published_tags_plus_multi() -> None:
    published = schema("nova-3")
    assert set(EMULATOR_NOVA3_LANGUAGES) - {published["multilingual"]} == set(
        published["languages"]
    )


def test_flux_is_english_only() -> None:
    assert list(catalog.get_model(catalog.FLUX).languages) == schema("flux")["languages"]


def test_catalog_melotts_languages_are_the_observed_ones() -> None:
    """§9 C4: ``lang`` en, zh, ja, ko answer 200; es and fr 404/8002."""
    assert list(catalog.get_model(catalog.MELOTTS).languages) == schema("melotts")["languages"]


def test_emulator_melotts_refuses_what_workers_ai_refuses() -> None:
    """The emulator must answer es/fr with 404/8002 like Workers AI (§9 C4)."""
    assert {"es", "fr"} <= EMULATOR_MELOTTS_REFUSED
    assert set(schema("melotts")["languages"]).isdisjoint(EMULATOR_MELOTTS_REFUSED)


def test_melotts_schema_default_is_english() -> None:
    model = catalog.get_model(catalog.MELOTTS)
    assert model.languages[0] == schema("melotts")["lang"]["default"]
