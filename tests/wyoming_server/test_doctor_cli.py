"""``wyoming-workers-ai doctor`` run as users and CI run it: a subprocess against the emulator."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from tests.wyoming_server.server_harness import clean_env, emulator_args, emulator_env
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import catalog


async def run_doctor(
    emulator: EmulatorProcess, report: Path, *args: str
) -> tuple[int, str, dict[str, Any]]:
    """Run ``python -m wyoming_server doctor`` with the emulator's credentials."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wyoming_server",
        "doctor",
        *emulator_args(emulator, "--report", str(report), *args),
        env={**clean_env(), **emulator_env(emulator)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 240)
    assert process.returncode is not None
    return process.returncode, out.decode(), json.loads(await asyncio.to_thread(report.read_text))


async def test_doctor_checks_every_model_and_transport(
    emulator_process: EmulatorProcess, tmp_path: Path
) -> None:
    code, out, report = await run_doctor(
        emulator_process, tmp_path / "report.json", "--undocumented"
    )
    assert code == 0, out
    assert "Expected cost: about" in out.split("MODEL")[0]  # said before the first call
    assert "EMULATOR" not in out  # real credentials were given: no fallback
    assert report["ok"] is True
    assert report["deviations"] == 0
    assert emulator_process.api_token not in json.dumps(report)

    checks = {(c["model_id"], c["transport"]): c for c in report["checks"]}
    expected = {(m.model_id, "rest") for m in catalog.MODELS.values() if m.rest} | {
        (m.model_id, "websocket") for m in catalog.MODELS.values() if m.websocket
    }
    documented = {key for key, c in checks.items() if c["documented"]}
    assert documented == expected
    for key in expected:
        check = checks[key]
        assert check["outcome"] == "ok", check
        assert check["total_ms"] is not None and check["first_result_ms"] is not None
        if check["transport"] == "rest":
            assert check["neurons"] is not None, key  # cf-ai-neurons read from the reply
    for model_id in ("@cf/openai/whisper", "@cf/deepgram/nova-3", "@cf/deepgram/flux"):
        transport = "websocket" if model_id.endswith("flux") else "rest"
        assert "living room light" in checks[(model_id, transport)]["result"].lower()
    assert "s linear16 at 24000 Hz" in checks[("@cf/deepgram/aura-2-en", "websocket")]["result"]

    # The emulator has no undocumented endpoint: reported, never a failure.
    undocumented = [c for c in report["checks"] if not c["documented"]]
    assert {c["model_id"] for c in undocumented} == {
        "@cf/deepgram/aura",
        "@cf/deepgram/aura-2",
        "@cf/deepgram/nova-3-internal",
        "@cf/deepgram/aura-1-internal",
        "@cf/deepgram/nova-3-ws",
        "@cf/deepgram/aura-2-en-ws",
        "@cf/pipecat-ai/smart-turn-v3",
        "@cf/nvidia/nemotron-speech-streaming-en-0.6b",
    }
    assert all(c["result"] == "not available" for c in undocumented)


async def test_doctor_exits_non_zero_and_names_a_deviation(
    emulator_process: EmulatorProcess, tmp_path: Path
) -> None:
    # Every WebSocket is dropped after its first message: nova-3 never sends Metadata.
    await emulator_process.set_faults(ws_drop_after_messages=1)
    code, out, report = await run_doctor(
        emulator_process, tmp_path / "report.json", "--models", "nova-3"
    )
    assert code == 1, out
    assert report["ok"] is False
    checks = {c["transport"]: c for c in report["checks"]}
    assert set(checks) == {"rest", "websocket"}  # --models limits the run
    assert checks["rest"]["outcome"] == "ok"
    streaming = checks["websocket"]
    assert streaming["outcome"] == "deviation"
    assert any("closed without Metadata" in d for d in streaming["deviations"])
    assert "closed without Metadata" in out


async def test_doctor_stops_at_a_refused_token(
    emulator_process: EmulatorProcess, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wyoming_server",
        "doctor",
        *emulator_args(emulator_process, "--report", str(tmp_path / "r.json")),
        "--models",
        "whisper-tiny-en,aura-1",
        env={
            **clean_env(),
            "CLOUDFLARE_ACCOUNT_ID": emulator_process.account_id,
            "CLOUDFLARE_API_TOKEN": "wrong-token",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 1, out
    report = json.loads(await asyncio.to_thread((tmp_path / "r.json").read_text))
    outcomes = [c["outcome"] for c in report["checks"]]
    assert outcomes == ["error", "skipped", "skipped"]  # one refused call, no further spending
    assert report["checks"][0]["error_code"] == 10000
    assert b"wrong-token" not in out


async def test_doctor_stops_at_a_spent_daily_allocation(
    emulator_process: EmulatorProcess, tmp_path: Path
) -> None:
    """A 4006 refusal (the client's error table says quota) ends the run with the reset time;
    a 3040 (out of capacity) is one failed check and the run goes on."""
    await emulator_process.set_faults(fail_next=1, status=429, code=4006)
    code, out, report = await run_doctor(
        emulator_process, tmp_path / "quota.json", "--models", "whisper-tiny-en,aura-1"
    )
    assert code == 1, out
    checks = report["checks"]
    assert [c["outcome"] for c in checks][1:] == ["skipped"] * (len(checks) - 1)
    assert checks[0]["error_code"] == 4006
    assert any("used up until 00:00 UTC" in n for n in checks[0]["notes"]), checks[0]

    await emulator_process.set_faults(fail_next=1, status=429, code=3040)
    code, out, report = await run_doctor(
        emulator_process, tmp_path / "busy.json", "--models", "whisper-tiny-en,aura-1"
    )
    assert code == 1, out
    assert report["checks"][0]["error_code"] == 3040
    assert [c["outcome"] for c in report["checks"][1:]] == ["ok"] * (len(report["checks"]) - 1)
