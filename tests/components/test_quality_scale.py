"""quality_scale.yaml says what the code does, rule by rule.

Each rule whose truth the code shows (actions registered, device classes, entities disabled by
default, diagnostics, repair issues, re-authentication and reconfiguration flows, translated
exceptions, icons, ...) is checked against Home Assistant after setting the integration up, or
against the component's source; the manifest's tier must have every rule up to it done or
exempt. The rule list and its tiers: https://developers.home-assistant.io/docs/core/integration-quality-scale/rules
(hassfest validates quality_scale.yaml only for core integrations, so nothing else would
notice a false claim).
"""

import ast
import json
from pathlib import Path
from typing import Any

import yaml
from pytest_homeassistant_custom_component.common import MockConfigEntry

import homeassistant.components
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component

from custom_components.workers_ai_speech import config_flow, diagnostics
from custom_components.workers_ai_speech.const import DOMAIN

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "custom_components" / DOMAIN
CORE_COMPONENTS = Path(homeassistant.components.__file__).parent

PLATINUM = {"async-dependency", "inject-websession", "strict-typing"}
"""The platinum rules; every other rule belongs to bronze, silver or gold."""

HA_EXCEPTIONS = {
    "HomeAssistantError",
    "ServiceValidationError",
    "ConfigEntryAuthFailed",
    "ConfigEntryError",
    "ConfigEntryNotReady",
}


def _status(rule: str | dict[str, Any]) -> str:
    return rule if isinstance(rule, str) else str(rule["status"])


def _rules() -> dict[str, str | dict[str, Any]]:
    rules: dict[str, str | dict[str, Any]] = yaml.safe_load(
        (COMPONENT / "quality_scale.yaml").read_text()
    )["rules"]
    return rules


def _core_rule_names() -> set[str]:
    """The rule names of Home Assistant's own integrations (every core file has them all)."""
    names: set[str] = set()
    for integration in ("elevenlabs", "openai_conversation"):
        path = CORE_COMPONENTS / integration / "quality_scale.yaml"
        names |= set(yaml.safe_load(path.read_text())["rules"])
    return names


def _source(module: str) -> ast.Module:
    return ast.parse((COMPONENT / f"{module}.py").read_text())


def _calls_to(attribute: str) -> list[str]:
    """The modules of the component that call ``<something>.<attribute>(...)``."""
    found = []
    for path in sorted(COMPONENT.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == attribute
            ):
                found.append(path.stem)
    return found


def _untranslated_raises() -> list[str]:
    """``module:line`` of each Home Assistant exception raised without a ``translation_key``."""
    found = []
    for path in sorted(COMPONENT.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Raise)
                and isinstance(node.exc, ast.Call)
                and isinstance(node.exc.func, ast.Name)
                and node.exc.func.id in HA_EXCEPTIONS
                and not any(k.arg == "translation_key" for k in node.exc.keywords)
            ):
                found.append(f"{path.stem}:{node.lineno}")
    return found


def _defines(cls: type, method: str) -> bool:
    """True when ``cls`` (not Home Assistant's base classes) defines ``method``."""
    return any(
        method in vars(klass) for klass in cls.__mro__ if klass.__module__.startswith("custom_")
    )


async def _facts(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """What Home Assistant and the source show, for the rules that can be checked."""
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    entities = er.async_entries_for_config_entry(registry, entry.entry_id)
    assert entities, "the entry set up no entities"
    actions = set(hass.services.async_services_for_domain(DOMAIN))
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    strings = json.loads((COMPONENT / "strings.json").read_text())
    icons_path = COMPONENT / "icons.json"
    icons = json.loads(icons_path.read_text()) if icons_path.exists() else {}
    return {
        "actions": actions,
        "actions_after_unload": set(hass.services.async_services_for_domain(DOMAIN)),
        "documented_actions": {
            action
            for action in actions
            if f"{DOMAIN}.{action}" in (ROOT / "docs" / "component.md").read_text()
        },
        "device_classes": {e.original_device_class for e in entities} - {None},
        "disabled_by_default": [
            e.entity_id for e in entities if e.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        ],
        "categories": {e.entity_category for e in entities} - {None},
        "without_entity_name": [e.entity_id for e in entities if not e.has_entity_name],
        "without_device": [e.entity_id for e in entities if e.device_id is None],
        "diagnostics": hasattr(diagnostics, "async_get_config_entry_diagnostics"),
        "repair_issues": _calls_to("async_create_issue"),
        "reauth": _defines(config_flow.WorkersAIConfigFlow, "async_step_reauth"),
        "reconfigure": _defines(config_flow.WorkersAIConfigFlow, "async_step_reconfigure"),
        "exception_strings": strings.get("exceptions", {}),
        "untranslated_raises": _untranslated_raises(),
        "icons": icons,
        "parallel_updates": [
            platform.value
            for platform in Platform
            if (COMPONENT / f"{platform.value}.py").exists()
            and "PARALLEL_UPDATES" not in (COMPONENT / f"{platform.value}.py").read_text()
        ],
        "unload": any(
            isinstance(n, ast.AsyncFunctionDef) and n.name == "async_unload_entry"
            for n in ast.walk(_source("__init__"))
        ),
    }


def _contradictions(rules: dict[str, Any], facts: dict[str, Any]) -> list[str]:
    """Each rule whose status the facts contradict, with the reason."""
    status = {name: _status(rule) for name, rule in rules.items()}
    found: list[str] = []

    def claim(rule: str, expected: str, why: str) -> None:
        if status[rule] != expected:
            found.append(f"{rule}: is {status[rule]}, should be {expected} ({why})")

    actions = facts["actions"]
    for rule in ("action-setup", "docs-actions", "action-exceptions"):
        if actions:
            claim(rule, "done", f"registers {sorted(actions)}")
        else:
            claim(rule, "exempt", "registers no actions")
    if actions and facts["actions_after_unload"] != actions:
        found.append("action-setup: actions vanish with the entry (register them in async_setup)")
    if status["docs-actions"] == "done" and facts["documented_actions"] != actions:
        found.append(
            f"docs-actions: docs/component.md lacks {sorted(actions - facts['documented_actions'])}"
        )
    if facts["device_classes"]:
        claim("entity-device-class", "done", f"uses {sorted(facts['device_classes'])}")
    else:
        claim("entity-device-class", "exempt", "no entity has a device class")
    if facts["disabled_by_default"]:
        claim("entity-disabled-by-default", "done", f"disables {facts['disabled_by_default']}")
    else:
        claim("entity-disabled-by-default", "exempt", "every entity is enabled by default")
    if facts["categories"]:
        claim("entity-category", "done", f"uses {sorted(facts['categories'])}")
    else:
        claim("entity-category", "exempt", "no entity has a category")
    if status["has-entity-name"] == "done" and facts["without_entity_name"]:
        found.append(f"has-entity-name: {facts['without_entity_name']} lack it")
    if status["devices"] == "done" and facts["without_device"]:
        found.append(f"devices: {facts['without_device']} have no device")
    claim("diagnostics", "done" if facts["diagnostics"] else "todo", "diagnostics.py")
    if facts["repair_issues"]:
        claim("repair-issues", "done", f"creates issues in {sorted(set(facts['repair_issues']))}")
    elif status["repair-issues"] == "done":
        found.append("repair-issues: is done, but nothing creates an issue")
    claim("reauthentication-flow", "done" if facts["reauth"] else "todo", "async_step_reauth")
    claim(
        "reconfiguration-flow", "done" if facts["reconfigure"] else "todo", "async_step_reconfigure"
    )
    translated = bool(facts["exception_strings"]) and not facts["untranslated_raises"]
    claim(
        "exception-translations",
        "done" if translated else "todo",
        f"untranslated: {facts['untranslated_raises']}" if not translated else "all translated",
    )
    icons = facts["icons"]
    iconed = bool(icons) and set(actions) <= set(icons.get("services", {}))
    claim("icon-translations", "done" if iconed else "todo", "icons.json covers the actions")
    claim(
        "parallel-updates",
        "todo" if facts["parallel_updates"] else "done",
        f"PARALLEL_UPDATES missing in {facts['parallel_updates']}",
    )
    claim("config-entry-unloading", "done" if facts["unload"] else "todo", "async_unload_entry")
    return found


def test_every_rule_of_home_assistant_is_stated() -> None:
    """The file names exactly the rules of core's files; an exemption says why."""
    rules = _rules()
    assert set(rules) == _core_rule_names()
    for name, rule in rules.items():
        assert _status(rule) in {"done", "todo", "exempt"}, name
        if _status(rule) == "exempt":
            assert isinstance(rule, dict), name
            assert str(rule.get("comment", "")).strip(), f"{name}: an exemption needs a reason"


def test_the_manifest_tier_holds() -> None:
    """The manifest's quality_scale is earned: every rule up to it is done or exempt."""
    manifest = json.loads((COMPONENT / "manifest.json").read_text())
    tier = manifest["quality_scale"]
    # Only the platinum rules are listed here: a lower tier needs its rule lists added.
    assert tier in {"gold", "platinum"}
    rules = _rules()
    required = set(rules) if tier == "platinum" else set(rules) - PLATINUM
    assert {r for r in required if _status(rules[r]) == "todo"} == set()


async def test_statuses_match_the_code(hass: HomeAssistant, config_entry: MockConfigEntry) -> None:
    """Each rule the code can show is done, exempt or todo as the code is."""
    facts = await _facts(hass, config_entry)
    assert _contradictions(_rules(), facts) == []
