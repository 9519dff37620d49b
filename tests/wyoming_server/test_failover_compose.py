"""deploy/docker-compose.failover.yml: valid YAML whose server flags parse and whose fallback
URIs name the compose services on the ports their images listen on (wyoming-faster-whisper
10300 and wyoming-piper 10200: the ``docker_run.sh`` of https://github.com/rhasspy/wyoming-faster-whisper
and https://github.com/rhasspy/wyoming-piper)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from wyoming_server.server.cli import parse_args

yaml = pytest.importorskip("yaml")

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "docker-compose.failover.yml"
IMAGE_PORTS = {"rhasspy/wyoming-whisper": 10300, "rhasspy/wyoming-piper": 10200}


def test_compose_fallbacks_reference_services_and_ports() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]
    server = services["wyoming-workers-ai"]
    assert (COMPOSE.parent / server["build"] / "Dockerfile").is_file()
    _, settings = parse_args([str(arg) for arg in server["command"]])
    failover = settings.failover
    for uri in (failover.stt_uri, failover.tts_uri):
        assert uri is not None
        parsed = urlparse(uri)
        service = services[parsed.hostname]
        image = service["image"].split(":")[0]
        assert parsed.port == IMAGE_PORTS[image]
        assert parsed.hostname in server["depends_on"]
    assert urlparse(failover.stt_uri).hostname == "wyoming-whisper"
    assert urlparse(failover.tts_uri).hostname == "wyoming-piper"
    for volume in (v.split(":")[0] for s in services.values() for v in s.get("volumes", [])):
        assert volume in compose["volumes"]
