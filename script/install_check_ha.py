"""Drive a freshly started Home Assistant over its REST API (used by ``script/install-check``).

Usage: python install_check_ha.py URL EMULATOR_INFO_JSON WAV VERSION

Onboards a user, waits for RUNNING, adds the ``workers_ai_speech`` integration through its config
flow against the emulator (Home Assistant installs the component's requirement on the way), then
transcribes WAV with the created STT entity and speaks a sentence with the TTS entity.
Runs with the Home Assistant venv's Python (only aiohttp, which Home Assistant brings).
"""

import asyncio
import json
import sys
import time
import wave
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

URL, INFO, WAV, VERSION = sys.argv[1:5]
CLIENT_ID = URL + "/"


def log(message: str) -> None:
    print(f"script/install-check: {message}", file=sys.stderr, flush=True)


async def wait_for(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 300.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if result := await check():
                return result
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


async def main(emulator: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as http:

        async def onboarding_open() -> bool:
            async with http.get(f"{URL}/api/onboarding") as r:
                return r.status == 200

        await wait_for(onboarding_open, "the HTTP server")
        async with http.post(
            f"{URL}/api/onboarding/users",
            json={
                "client_id": CLIENT_ID,
                "name": "Install check",
                "username": "check",
                "password": "install-check",
                "language": "en",
            },
        ) as r:
            r.raise_for_status()
            auth_code = (await r.json())["auth_code"]
        async with http.post(
            f"{URL}/auth/token",
            data={"grant_type": "authorization_code", "code": auth_code, "client_id": CLIENT_ID},
        ) as r:
            r.raise_for_status()
            headers = {"Authorization": f"Bearer {(await r.json())['access_token']}"}

        async def running() -> bool:
            async with http.get(f"{URL}/api/config", headers=headers) as r:
                return r.status == 200 and (await r.json()).get("state") == "RUNNING"

        await wait_for(running, "state RUNNING")
        log("Home Assistant is RUNNING; starting the Workers AI Speech config flow")
        # Home Assistant installs the integration's requirements before the flow's first step.
        async with http.post(
            f"{URL}/api/config/config_entries/flow",
            headers=headers,
            json={"handler": "workers_ai_speech"},
            timeout=aiohttp.ClientTimeout(total=600),
        ) as r:
            if r.status != 200:
                raise SystemExit(f"starting the config flow: HTTP {r.status} {await r.text()}")
            flow = await r.json()
        async with http.post(
            f"{URL}/api/config/config_entries/flow/{flow['flow_id']}",
            headers=headers,
            json={
                "account_id": emulator["account_id"],
                "api_token": emulator["api_token"],
                "advanced": {"api_base_url": emulator["base_url"]},  # the form's section
            },
        ) as r:
            r.raise_for_status()
            result = await r.json()
        if result.get("type") != "create_entry":
            raise SystemExit(f"config flow did not create an entry: {result}")
        async with http.get(f"{URL}/api/config/config_entries/entry", headers=headers) as r:
            entries = [e for e in await r.json() if e["domain"] == "workers_ai_speech"]
        log(f"config entry {result['title']!r}: state {entries[0]['state']}")
        if entries[0]["state"] != "loaded":
            raise SystemExit(f"config entry not loaded: {entries[0]}")

        async def entity_ids(prefix: str) -> list[str]:
            async with http.get(f"{URL}/api/states", headers=headers) as r:
                states = await r.json()
            return [s["entity_id"] for s in states if s["entity_id"].startswith(prefix)]

        stt_entities = await wait_for(lambda: entity_ids("stt."), "the STT entity", 60)
        with wave.open(WAV, "rb") as w:
            pcm = w.readframes(w.getnframes())
        async with http.post(
            f"{URL}/api/stt/{stt_entities[0]}",
            data=pcm,
            headers=headers
            | {
                "X-Speech-Content": "format=wav; codec=pcm; sample_rate=16000; bit_rate=16; "
                "channel=1; language=en-US"
            },
        ) as r:
            r.raise_for_status()
            answer = await r.json()
        log(f"{stt_entities[0]} transcribed: {answer}")
        if answer.get("result") != "success" or "living room" not in answer.get("text", "").lower():
            raise SystemExit("unexpected transcript")

        tts_entity = next(e for e in await entity_ids("tts.") if "text_to_speech" in e)
        async with http.post(
            f"{URL}/api/tts_get_url",
            headers=headers,
            json={
                "engine_id": tts_entity,
                "message": "The living room light is on.",
                "options": {"preferred_format": "wav"},
            },
        ) as r:
            r.raise_for_status()
            path = (await r.json())["path"]
        async with http.get(f"{URL}{path}") as r:
            r.raise_for_status()
            audio = await r.read()
        log(f"{tts_entity} spoke {len(audio)} bytes")
        if audio[:4] != b"RIFF" or len(audio) < 24000:
            raise SystemExit("unexpected TTS audio")


with open(INFO) as info_file:
    asyncio.run(main(json.load(info_file)))
