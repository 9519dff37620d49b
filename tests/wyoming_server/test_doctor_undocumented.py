"""``doctor --undocumented`` on the endpoints Cloudflare lists without a schema.

The emulator answers none of them (400/7000, as Workers AI answers a model it does not know),
so a small aiohttp stand-in plays an account on which ``smart-turn-v3`` opens a WebSocket and
``nemotron-speech-streaming-en-0.6b`` is refused: the report must say "opens, protocol
unknown" for one and "not available" for the other, send nothing on the open socket, and
never count either as a deviation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from wyoming_server.doctor.checks import UNDOCUMENTED, plan, run_doctor

ACCOUNT = "0" * 32
SMART_TURN = "@cf/pipecat-ai/smart-turn-v3"
NEMOTRON = "@cf/nvidia/nemotron-speech-streaming-en-0.6b"


def test_the_newer_endpoints_are_planned_only_when_asked() -> None:
    ids = {t.model_id for t in UNDOCUMENTED}
    assert {
        "@cf/deepgram/nova-3-ws",
        "@cf/deepgram/aura-2-en-ws",
        SMART_TURN,
        NEMOTRON,
    } <= ids
    assert not ids & {t.model_id for t in plan()}
    assert ids <= {t.model_id for t in plan(undocumented=True)}
    protocols = {t.model_id: t.protocol for t in UNDOCUMENTED}
    assert protocols["@cf/deepgram/nova-3-ws"] == "listen-v1"
    assert protocols["@cf/deepgram/aura-2-en-ws"] == "speak-v1"
    assert protocols[SMART_TURN] == protocols[NEMOTRON] == "handshake"


@pytest.fixture
async def account() -> AsyncIterator[tuple[str, list[str]]]:
    received: list[str] = []

    async def run(request: web.Request) -> web.StreamResponse:
        model = request.match_info["model"]
        if model == SMART_TURN and request.headers.get("Upgrade", "").lower() == "websocket":
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    received.append(model)
            return ws
        body = {"success": False, "errors": [{"code": 7000, "message": "No such model"}]}
        return web.json_response(body, status=400)

    app = web.Application()
    app.router.add_route("*", "/client/v4/accounts/{account}/ai/run/{model:.+}", run)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/client/v4")), received
    finally:
        await server.close()


async def test_handshake_only_probes_report_open_or_unavailable(
    account: tuple[str, list[str]],
) -> None:
    base_url, received = account
    report = await run_doctor(
        ACCOUNT, "token", api_base_url=base_url, models=[SMART_TURN, NEMOTRON]
    )
    checks = {c.model_id: c for c in report.checks}
    assert set(checks) == {SMART_TURN, NEMOTRON}
    opened = checks[SMART_TURN]
    assert opened.result == "WebSocket opens; protocol unknown (no published schema)"
    assert opened.outcome.value == "ok"
    assert opened.connect_ms is not None
    refused = checks[NEMOTRON]
    assert refused.result == "not available"
    assert any("7000" in note for note in refused.notes), refused.notes
    assert received == []  # nothing sent on a socket whose protocol is unknown
    assert all(not c.deviations for c in report.checks)
