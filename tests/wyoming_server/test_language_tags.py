"""The one mapping of language tags, shared by the server, the doctor and the component."""

from __future__ import annotations

import pytest

from wyoming_server.workers_ai.language_tags import base_language, nova3_language


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
