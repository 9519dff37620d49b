"""The integration's static files: manifest (hassfest rules), translations, HACS, brand."""

import ast
import json
import re
import struct
from pathlib import Path

from custom_components.workers_ai_speech.const import DOMAIN
from wyoming_server import __version__
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
    assert manifest["requirements"][0] == f"wyoming-workers-ai=={__version__}"
    # The client's logger, so that "Enable debug logging" in the UI covers it.
    assert manifest["loggers"] == ["wyoming_server.doctor", "wyoming_server.workers_ai"]


def test_every_import_is_a_declared_requirement() -> None:
    """Third-party packages the component imports are in the manifest's requirements."""
    requirements = {
        re.split(r"[=<>]", r)[0].replace("-", "_")
        for r in _json(COMPONENT / "manifest.json")["requirements"]
    }
    provided = {"homeassistant", "probatio", "yarl", "aiohttp", "wyoming_server"}
    imported: set[str] = set()
    for path in COMPONENT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
    stdlib = {m for m in imported if m in __import__("sys").stdlib_module_names}
    assert imported - stdlib - provided <= requirements


PUBLISHED = (
    "wyoming_server", "custom_components", "benchmarks", "script", "addon", "deploy",
    "Dockerfile", "README.md", "docs",
)  # fmt: skip
"""What users and readers get: shipped code, benchmarks and their published results, scripts."""

PRIVATE_CITATIONS = re.compile(
    r"(?<!RFC \d{4} )§\s*\d|\bC\d{1,2}\b|(workers-ai-speech-api|home-assistant-2026\.10"
    r"|wyoming-protocol-and-servers)(\.md)?|research notes|internal notes|shared/docs"
    r"|\.\./shared(?!/bin/ensure-python3\.14)"
)
"""The project's private notes ("§9 C10", their file names, ../shared): readers cannot open them,
so sources are public URLs. CI scripts may run ../shared/bin/ensure-python3.14."""


def _published_files() -> list[Path]:
    files: list[Path] = []
    for name in PUBLISHED:
        path = ROOT / name
        files.extend(
            [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        )
    return [
        f
        for f in files
        if "__pycache__" not in f.parts
        and f.suffix not in {".wav", ".mp3", ".pyc", ".png", ".onnx"}
    ]


def test_no_private_document_is_cited() -> None:
    """Shipped code, docs, benchmarks (results included) and scripts cite public URLs only."""
    found = []
    for path in _published_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if match := PRIVATE_CITATIONS.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}")
    assert found == []


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


def _calls_with(keyword: str) -> list[tuple[str, ast.Call]]:
    """(module name, call) for every call in the component that passes ``keyword=``."""
    found = []
    for path in sorted(COMPONENT.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and any(k.arg == keyword for k in node.keywords):
                found.append((path.stem, node))
    return found


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _constants() -> dict[str, str]:
    """String constants of const.py (translation keys passed by name)."""
    tree = ast.parse((COMPONENT / "const.py").read_text())
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.value, ast.Constant)
        ):
            found[node.target.id] = node.value.value
    return found


def _branches(node: ast.expr | None) -> list[ast.expr]:
    """The keys an expression can give: both arms of ``a if c else b``, else the node itself."""
    if isinstance(node, ast.IfExp):
        return _branches(node.body) + _branches(node.orelse)
    assert node is not None
    return [node]


def _placeholders(message: str) -> set[str]:
    return set(re.findall(r"{(\w+)}", message))


def test_every_translation_key_in_the_code_exists() -> None:
    """Exceptions, entity names, selectors, flow steps, errors and aborts are all translated.

    Reads the component's source (ast), so a key added to the code without a string fails here
    instead of showing a raw key (or no message) to the user.
    """
    strings = _json(COMPONENT / "strings.json")
    seen = 0
    # Exceptions: translation_key (+ the placeholders their message uses).
    constants = _constants()
    for module, call in _calls_with("translation_key"):
        for branch in _branches(_keyword(call, "translation_key")):
            key = ast.Constant(constants[branch.id]) if isinstance(branch, ast.Name) else branch
            assert isinstance(key, ast.Constant), ast.dump(key)
            given = _keyword(call, "translation_placeholders")
            names = {k.value for k in given.keys} if isinstance(given, ast.Dict) else set()  # type: ignore[union-attr]
            if isinstance(call.func, ast.Name) and call.func.id.endswith("Description"):
                assert key.value in strings["entity"][module], key.value  # entity description
            elif isinstance(call.func, ast.Attribute) and call.func.attr == "async_create_issue":
                issue = strings["issues"][key.value]
                assert _placeholders(issue["title"] + issue.get("description", "")) <= names
            elif _keyword(call, "translation_domain") is None:  # a selector config
                assert key.value in strings["selector"], key.value
            else:
                message = strings["exceptions"][key.value]["message"]
                assert _placeholders(message) == names, key.value
            seen += 1
    # Entity names: _attr_translation_key of each platform's entities.
    for platform in ("stt", "tts", "select"):
        tree = ast.parse((COMPONENT / f"{platform}.py").read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and any(
                    isinstance(t, ast.Name) and t.id == "_attr_translation_key"
                    for t in node.targets
                )
                and isinstance(node.value, ast.Constant)
            ):
                assert strings["entity"][platform][node.value.value]["name"]
                seen += 1
    # Flow steps, form errors and abort reasons of the config flow and the subentry flows.
    flows = [
        strings["config"],
        strings["options"],
        *strings["config_subentries"].values(),
        strings["issues"]["unknown_model"]["fix_flow"],
    ]
    for _module, call in _calls_with("step_id"):
        step = _keyword(call, "step_id")
        if isinstance(step, ast.Constant):
            assert any(step.value in flow["step"] for flow in flows), step.value
            seen += 1
    aborts = {
        "config_flow": strings["config"]["abort"],
        "repairs": strings["issues"]["unknown_model"]["fix_flow"]["abort"],
    }
    for module, call in _calls_with("reason"):
        reason = _keyword(call, "reason")
        assert isinstance(reason, ast.Constant)
        if module == "subentry_flow":
            assert all(reason.value in s["abort"] for s in strings["config_subentries"].values())
        else:
            assert reason.value in aborts[module], reason.value
        seen += 1
    tree = ast.parse((COMPONENT / "config_flow.py").read_text())
    validate = next(
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.AsyncFunctionDef) and n.name == "_async_validate"
    )
    for node in ast.walk(validate):
        if isinstance(node, ast.Dict):
            for value in node.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    assert value.value in strings["config"]["error"], value.value
                    seen += 1
    # Reasons Home Assistant aborts with on our behalf (unique ID, update-and-abort helpers).
    for reason in ("already_configured", "reauth_successful", "reconfigure_successful"):
        assert reason in strings["config"]["abort"]
    for subentry in strings["config_subentries"].values():
        assert "reconfigure_successful" in subentry["abort"]
        assert subentry["entry_type"]
        assert subentry["initiate_flow"]["user"]
    assert seen >= 15  # the scan found the code's keys (guards against a broken scan)
