"""The integration's static files: manifest (hassfest rules), translations, HACS, brand."""

import json
import struct
from pathlib import Path

from custom_components.workers_ai_speech.const import DOMAIN
from wyoming_server.workers_ai import catalog

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "custom_components" / DOMAIN


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_manifest_follows_hassfest_rules() -> None:
    """domain, name, then sorted keys; the keys a custom integration needs (doc §4.2)."""
    manifest = _json(COMPONENT / "manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == DOMAIN == COMPONENT.name
    assert manifest["integration_type"] == "service"
    assert manifest["iot_class"] == "cloud_push"
    assert manifest["config_flow"] is True
    assert manifest["codeowners"]
    assert manifest["documentation"].startswith("https://")
    assert manifest["issue_tracker"].startswith("https://")
    pyproject = (ROOT / "pyproject.toml").read_text()
    version = pyproject.split('version = "', 1)[1].split('"', 1)[0]
    assert manifest["requirements"] == [f"wyoming-workers-ai=={version}"]


def test_translations_are_the_strings() -> None:
    """A custom integration ships literal translations: en.json equals strings.json, no refs."""
    strings = (COMPONENT / "strings.json").read_text()
    assert (COMPONENT / "translations" / "en.json").read_text() == strings
    assert "[%key:" not in strings
    assert "://" not in strings  # URLs go into placeholders (hassfest)


def test_every_speaker_has_a_translated_voice_state() -> None:
    """The voice select's options (aura speakers) all have display names."""
    states = _json(COMPONENT / "strings.json")["entity"]["select"]["voice"]["state"]
    speakers = {s for m in catalog.TTS_MODELS for s in m.speakers}
    assert set(states) == speakers


def test_hacs_manifest() -> None:
    """hacs.json only uses keys HACS accepts (doc §4.3); brand needs HA >= 2026.3."""
    hacs = _json(ROOT / "hacs.json")
    assert set(hacs) <= {
        "name", "content_in_root", "country", "filename", "hacs", "hide_default_branch",
        "homeassistant", "persistent_directory", "render_readme", "zip_release",
    }  # fmt: skip
    assert hacs["homeassistant"] == "2026.10.0"
    assert [
        p.name
        for p in (ROOT / "custom_components").iterdir()
        if p.is_dir() and not p.name.startswith("__")
    ] == [DOMAIN]


def test_brand_images() -> None:
    """PNG icons under the names Home Assistant serves (doc §4.4), square, 256 / 512 px."""
    sizes = {"icon.png": 256, "icon@2x.png": 512, "dark_icon.png": 256, "dark_icon@2x.png": 512}
    for name, size in sizes.items():
        data = (COMPONENT / "brand" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert (width, height) == (size, size), name
