"""The Home Assistant add-on (``addon/wyoming_workers_ai``), checked offline.

Rules from the Supervisor's add-on schema
(https://developers.home-assistant.io/docs/add-ons/configuration,
https://github.com/home-assistant/supervisor/blob/main/supervisor/addons/validate.py): required
keys, architectures, option/schema consistency and schema types; plus what ties the add-on to the
server: the version it installs, and that the options it passes are flags the server accepts.
"""

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from wyoming_server import __version__
from wyoming_server.server.cli import build_parser, parse_args
from wyoming_server.workers_ai import catalog

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "addon" / "wyoming_workers_ai"
ARCHES = {"aarch64", "amd64", "armhf", "armv7", "i386"}
SCHEMA_TYPE = re.compile(
    r"(str|bool|email|url|password|port|device)(\(.*\))?\??"
    r"|(int|float)(\(-?[\d.]*,-?[\d.]*\))?\??"
    r"|match\(.+\)\??|list\([^|()]+(\|[^|()]+)*\)\??"
)


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_addon_config_has_the_required_keys() -> None:
    config = _yaml(ADDON / "config.yaml")
    for key in ("name", "version", "slug", "description", "arch"):
        assert config[key], key
    assert config["slug"] == ADDON.name
    assert set(config["arch"]) <= ARCHES
    assert {"aarch64", "amd64"} <= set(config["arch"])  # Raspberry Pi 4/5 and PCs
    assert "wyoming" in config["discovery"]
    for shown in ("DOCS.md", "README.md", "CHANGELOG.md", "icon.png"):  # the add-on store's pages
        assert (ADDON / shown).is_file(), shown
    assert f"## {config['version']}" in (ADDON / "CHANGELOG.md").read_text()
    build = _yaml(ADDON / "build.yaml")
    assert set(build["build_from"]) == set(config["arch"])
    repository = _yaml(ROOT / "repository.yaml")
    assert repository["name"] and repository["url"].startswith("https://")


def test_addon_installs_this_release() -> None:
    """The add-on's version is the server's, and its Dockerfile installs exactly that."""
    config = _yaml(ADDON / "config.yaml")
    assert config["version"] == __version__
    dockerfile = (ADDON / "Dockerfile").read_text()
    assert f"ARG WYOMING_WORKERS_AI_VERSION={__version__}\n" in dockerfile


def test_options_match_their_schema() -> None:
    config = _yaml(ADDON / "config.yaml")
    options, schema = config["options"], config["schema"]
    assert set(options) == set(schema)
    for key, kind in schema.items():
        assert SCHEMA_TYPE.fullmatch(kind), f"{key}: {kind}"
    assert schema["api_token"] == "password"  # masked in the UI
    assert re.fullmatch(schema["account_id"][6:-1], "0123456789abcdef0123456789abcdef")
    models = schema["stt_model"][5:-1].split("|")
    assert sorted(models) == sorted(m.short_name for m in catalog.ASR_MODELS)
    assert options["stt_model"] in models
    translations = _yaml(ADDON / "translations" / "en.yaml")
    assert set(translations["configuration"]) == set(options)


def test_run_script_passes_flags_the_server_accepts() -> None:
    """Every flag in run.sh exists, and the default options parse as valid settings."""
    run = (ADDON / "run.sh").read_text()
    flags = set(re.findall(r"(--[a-z][a-z-]+)", run))
    known = {o for action in build_parser()._actions for o in action.option_strings}
    server_flags = flags - {"--wait"}  # the healthcheck's (its --uri is the server's too)
    assert server_flags <= known, server_flags - known
    options = _yaml(ADDON / "config.yaml")["options"]
    _args, settings = parse_args(
        shlex.split(
            f"--stt-model {options['stt_model']} --tts-voice {options['tts_voice']} "
            f"--language {options['language']}"
        )
    )
    assert settings.tts_voice == options["tts_voice"]
    assert catalog.get_model(settings.stt_model).short_name == options["stt_model"]


@pytest.mark.parametrize("model", [m.short_name for m in catalog.ASR_MODELS])
def test_every_listed_model_starts_the_server(model: str) -> None:
    """A model the user can pick in the add-on is one the server takes (with English)."""
    _args, settings = parse_args(["--stt-model", model, "--language", "en"])
    assert catalog.get_model(settings.stt_model).short_name == model


def test_containers_run_the_packaged_healthcheck_as_non_root() -> None:
    """Both images check health with describe (the console script pyproject declares); the
    standalone image drops root."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["wyoming-workers-ai-healthcheck"] == "wyoming_server.server.healthcheck:run"
    for dockerfile in (ROOT / "Dockerfile", ADDON / "Dockerfile"):
        text = dockerfile.read_text()
        assert re.search(r"HEALTHCHECK .*\n?.*CMD \[\"wyoming-workers-ai-healthcheck\"", text)
    users = re.findall(r"^USER (\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"0", "root"}


def test_container_build_context_has_what_the_build_reads() -> None:
    """The image builds from pyproject.toml: its readme, licence files and package are copied in
    (and not excluded by .dockerignore), or ``pip wheel`` fails inside the build."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {"pyproject.toml", project["readme"], *project["license-files"], "wyoming_server"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = {
        Path(src).as_posix().rstrip("/")
        for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.MULTILINE)
        for src in line.split()[:-1]
    }
    assert needed <= copied, needed - copied
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert needed <= allowed, needed - allowed
