"""What HACS, hassfest and PyPI check before users can install the component, checked offline.

The rules are those of hassfest (https://github.com/home-assistant/core/tree/dev/script/hassfest:
``manifest.py``, ``dependencies.py``, ``requirements.py``, ``translations.py``, ``services.py``)
and of the HACS action (https://github.com/hacs/integration/tree/main/custom_components/hacs/validate
and ``utils/validate.py``); the real ones run in ``.github/workflows/validate.yml``.
"""

import ast
import json
import re
import tomllib
from pathlib import Path

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from packaging.requirements import Requirement

from homeassistant.const import Platform

from custom_components.workers_ai_speech.const import DOMAIN
from wyoming_server import __version__

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "custom_components" / DOMAIN
DISTRIBUTION = "wyoming-workers-ai"

# hassfest manifest.py: CUSTOM_INTEGRATION_MANIFEST_SCHEMA forbids any other key.
MANIFEST_KEYS = {
    "domain", "name", "integration_type", "config_flow", "mqtt", "zeroconf", "ssdp",
    "bluetooth", "homekit", "dhcp", "usb", "documentation", "quality_scale", "requirements",
    "dependencies", "after_dependencies", "codeowners", "loggers", "disabled", "iot_class",
    "single_config_entry", "preview_features", "issue_tracker", "version", "import_executor",
}  # fmt: skip
IOT_CLASSES = {
    "assumed_state", "calculated", "cloud_polling", "cloud_push", "local_polling", "local_push",
}  # fmt: skip
INTEGRATION_TYPES = {
    "device", "entity", "hardware", "helper", "hub", "service", "system", "virtual",
}  # fmt: skip
# hacs utils/validate.py: HACS_MANIFEST_JSON_SCHEMA (extra keys forbidden).
HACS_KEYS = {
    "name", "content_in_root", "country", "filename", "hacs", "hide_default_branch",
    "homeassistant", "persistent_directory", "render_readme", "zip_release",
}  # fmt: skip
# hassfest dependencies.py: ALLOWED_USED_COMPONENTS besides the entity platforms.
ALLOWED_IMPORTS = {
    "alert", "automation", "conversation", "default_config", "device_automation", "frontend",
    "group", "homeassistant", "media_source", "onboarding", "persistent_notification", "person",
    "script", "sun", "system_health", "system_log", "timer", "webhook", "websocket_api", "zone",
}  # fmt: skip


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_version_is_set_in_one_place() -> None:
    """pyproject reads ``wyoming_server.__version__``; the manifest pins exactly that release.

    A manifest still pinning the previous release makes Home Assistant install the old server
    library next to the new component.
    """
    project = _pyproject()
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "wyoming_server.__version__"
    }
    manifest = _json(COMPONENT / "manifest.json")
    assert manifest["requirements"][0] == f"{DISTRIBUTION}=={__version__}"
    assert manifest["version"] == __version__
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {__version__}" in changelog  # every release has its notes


def test_manifest_passes_hassfest() -> None:
    manifest = _json(COMPONENT / "manifest.json")
    assert set(manifest) <= MANIFEST_KEYS
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]  # then alphabetical (hassfest sort_manifest)
    assert keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == COMPONENT.name
    assert manifest["name"]
    assert manifest["codeowners"]
    assert all(owner.startswith("@") for owner in manifest["codeowners"])
    for url_key in ("documentation", "issue_tracker"):
        assert manifest[url_key].startswith("https://"), url_key
    assert not manifest["documentation"].startswith("https://www.home-assistant.io/integrations")
    assert manifest["iot_class"] in IOT_CLASSES
    assert manifest.get("integration_type", "hub") in INTEGRATION_TYPES
    # The loader refuses a custom integration without a valid version.
    assert AwesomeVersion(manifest["version"]).strategy != AwesomeVersionStrategy.UNKNOWN
    assert manifest["config_flow"] is (COMPONENT / "config_flow.py").is_file()
    for requirement in manifest["requirements"]:
        assert " " not in requirement
        Requirement(requirement)  # parses
    dependencies = set(manifest.get("dependencies", []))
    assert not dependencies & set(manifest.get("after_dependencies", []))
    # "Enable debug logging" in Home Assistant covers these: every subpackage of the
    # requirement the component imports logs under its own name, so each must be listed.
    used = set()
    for path in COMPONENT.glob("*.py"):
        used |= set(re.findall(r"^\s*from (wyoming_server\.\w+)", path.read_text(), re.M))
    assert used == {"wyoming_server.workers_ai", "wyoming_server.doctor"}
    assert manifest["loggers"] == sorted(used)
    for logger in manifest["loggers"]:
        assert re.fullmatch(r"[\w.]+", logger)


def test_component_imports_only_declared_integrations() -> None:
    """Every ``homeassistant.components.X`` used is a platform, allowed, or a dependency."""
    manifest = _json(COMPONENT / "manifest.json")
    allowed = (
        {p.value for p in Platform}
        | ALLOWED_IMPORTS
        | set(manifest.get("dependencies", []))
        | set(manifest.get("after_dependencies", []))
        | {path.stem for path in COMPONENT.glob("*.py")}  # platforms this component provides
    )
    used = set()
    for path in COMPONENT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("homeassistant.components."):
                    used.add(node.module.split(".")[2])
                elif node.module == "homeassistant.components":
                    used.update(alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                used.update(
                    alias.name.split(".")[2]
                    for alias in node.names
                    if alias.name.startswith("homeassistant.components.")
                )
    assert used, "the scan found no imports"
    assert used <= allowed, used - allowed


def test_services_and_translations_are_consistent() -> None:
    """hassfest: services.yaml iff services are registered; en.json is strings.json's copy."""
    registers = any(
        "async_register" in p.read_text() and "services" in p.read_text()
        for p in COMPONENT.glob("*.py")
    )
    assert (COMPONENT / "services.yaml").is_file() is registers
    strings = _json(COMPONENT / "strings.json")
    assert _json(COMPONENT / "translations" / "en.json") == strings
    assert set(strings) <= {
        "title", "config", "config_subentries", "options", "selector", "entity", "exceptions",
        "issues", "services", "device", "device_automation", "state", "conditions", "triggers",
        "system_health", "preview_features",
    }  # fmt: skip
    icons = _json(COMPONENT / "icons.json")
    for platform, entities in icons.get("entity", {}).items():
        for key, icon in entities.items():
            assert key in strings["entity"][platform], f"icon for unknown entity {key}"
            assert all(v.startswith("mdi:") for v in _leaves(icon)), icon


def _leaves(value: object) -> list[str]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    return [str(value)]


def test_setup_without_yaml_declares_it() -> None:
    """hassfest config_schema.py: a config-flow integration with ``async_setup`` must declare
    ``CONFIG_SCHEMA`` (e.g. ``cv.config_entry_only_config_schema``)."""
    tree = ast.parse((COMPONENT / "__init__.py").read_text())
    defines = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    assigns = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
               if isinstance(t, ast.Name)}  # fmt: skip
    if defines & {"async_setup", "setup"}:
        assert "CONFIG_SCHEMA" in assigns
    assert "async_setup_entry" in defines


def test_hacs_repository_rules() -> None:
    """hacs.json keys; a zip release with its file name; one integration; licence; readme."""
    hacs = _json(ROOT / "hacs.json")
    assert set(hacs) <= HACS_KEYS
    assert hacs["name"]
    if hacs.get("zip_release"):
        assert hacs["filename"].endswith(".zip")
    assert not hacs.get("content_in_root", False)
    # The brand images need Home Assistant >= 2026.3; this project supports 2026.10+.
    assert AwesomeVersion(hacs["homeassistant"]) >= AwesomeVersion("2026.3.0")
    integrations = [p for p in (ROOT / "custom_components").iterdir() if p.is_dir()]
    assert [p.name for p in integrations if not p.name.startswith("__")] == [DOMAIN]
    manifest = _json(COMPONENT / "manifest.json")
    for key in ("codeowners", "documentation", "domain", "issue_tracker", "name", "version"):
        assert manifest[key], key
    assert (COMPONENT / "brand" / "icon.png").is_file()  # validate/brands.py
    assert (ROOT / "README.md").is_file()  # validate/information.py
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License")  # an OSI licence GitHub detects (validate/license.py)
    assert _pyproject()["project"]["license"] == "MIT"


def test_release_workflow_ships_what_hacs_downloads() -> None:
    """The release workflow zips the component under the name hacs.json announces."""
    hacs = _json(ROOT / "hacs.json")
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert hacs["filename"] in workflow
    assert "pypa/gh-action-pypi-publish" in workflow
    assert "id-token: write" in workflow  # PyPI trusted publishing
    validate = (ROOT / ".github" / "workflows" / "validate.yml").read_text()
    assert "home-assistant/actions/hassfest" in validate
    assert "hacs/action" in validate
