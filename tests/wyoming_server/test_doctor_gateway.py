"""doctor through an authenticated AI Gateway: the documented WebSocket URL and the gateway token.

A fake gateway (aiohttp on loopback) records what doctor sends and refuses it, as a gateway
with a wrong token would. The expected shapes come from Cloudflare's AI Gateway docs, not from
our client: the model is a query parameter of ``.../workers-ai``
(https://developers.cloudflare.com/ai-gateway/usage/websockets-api/realtime-api/) and the token
travels as ``cf-aig-authorization: Bearer ...``
(https://developers.cloudflare.com/ai-gateway/configuration/authentication/).
"""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.test_utils import TestServer

from wyoming_server.doctor.checks import run_doctor

ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
GATEWAY_TOKEN = "gateway-token-for-the-doctor-test"


async def test_doctor_uses_the_gateway_websocket_url_and_token() -> None:
    seen: list[tuple[str, str, str | None]] = []

    async def refuse(request: web.Request) -> web.Response:
        seen.append(
            (request.path, request.query_string, request.headers.get("cf-aig-authorization"))
        )
        body = {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]}
        return web.Response(status=401, text=json.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", refuse)
    async with TestServer(app, host="127.0.0.1") as server:
        base = str(server.make_url(f"/v1/{ACCOUNT}/home/workers-ai"))
        report = await run_doctor(
            ACCOUNT,
            "api-token",
            api_base_url=base,
            models=["flux"],
            gateway_token=GATEWAY_TOKEN,
        )
    assert not report.ok
    assert seen, "doctor sent nothing to the gateway"
    path, query, token = seen[0]
    assert path == f"/v1/{ACCOUNT}/home/workers-ai"
    assert query.startswith("model=@cf/deepgram/flux") or "model=%40cf%2Fdeepgram%2Fflux" in query
    assert token == f"Bearer {GATEWAY_TOKEN}"
    assert GATEWAY_TOKEN not in json.dumps(report.as_dict())
