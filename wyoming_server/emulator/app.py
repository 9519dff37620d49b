"""The emulator's aiohttp application: Cloudflare's URLs, edge checks and dispatch per model.

Routes (https://developers.cloudflare.com/api/resources/ai/methods/run/, the models search of
https://developers.cloudflare.com/api/, and the WebSocket of
https://developers.cloudflare.com/workers-ai/models/nova-3/):

- ``POST /client/v4/accounts/{account_id}/ai/run/{model}``: REST inference.
- ``GET  /client/v4/accounts/{account_id}/ai/run/{model}`` + WebSocket upgrade: streaming.
- ``GET  /client/v4/accounts/{account_id}/ai/models/search``: the model catalog.
- ``GET|POST|DELETE /__emulator__/faults``: fault injection control (:mod:`.control`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import control, listen_v1, listen_v2, network, neurons, rest_asr, rest_tts, speak_v1
from .auth import check_account, check_token
from .config import CONTROL_PREFIX, EmulatorConfig
from .context import EmulatorContext, check_body_headers, read_body
from .errors import CloudflareError, bad_input, error_envelope, no_such_model, success_envelope
from .faults import Faults
from .models import MODELS, Kind, ModelInfo, search_catalog

_LOGGER = logging.getLogger(__name__)

CONTEXT_KEY = web.AppKey("emulator_context", EmulatorContext)

RestHandler = Callable[
    [web.Request, EmulatorContext, ModelInfo, bytes], Awaitable[web.StreamResponse]
]
WsHandler = Callable[[web.Request, EmulatorContext, ModelInfo], Awaitable[web.StreamResponse]]

_REST: dict[Kind, RestHandler] = {
    Kind.WHISPER: rest_asr.handle_whisper,
    Kind.WHISPER_TURBO: rest_asr.handle_whisper_turbo,
    Kind.NOVA_3: rest_asr.handle_nova_3,
    Kind.AURA: rest_tts.handle_aura,
    Kind.MELOTTS: rest_tts.handle_melotts,
}
_WS: dict[Kind, WsHandler] = {
    Kind.NOVA_3: listen_v1.serve,
    Kind.FLUX: listen_v2.serve,
    Kind.AURA: speak_v1.serve,
}
_RUN_PATH = "/client/v4/accounts/{account_id}/ai/run/{model:.+}"


def create_app(config: EmulatorConfig, faults: Faults) -> web.Application:
    """Build the emulator's application for ``config`` with live ``faults``."""
    app = web.Application(
        client_max_size=config.max_request_bytes + 1, middlewares=[_cloudflare_errors]
    )
    app[CONTEXT_KEY] = EmulatorContext(config=config, faults=faults)
    app.on_response_prepare.append(neurons.add_header)
    app.router.add_post(_RUN_PATH, _run_rest)
    app.router.add_get(_RUN_PATH, _run_websocket, allow_head=False)
    app.router.add_get("/client/v4/accounts/{account_id}/ai/models/search", _models_search)
    control.add_routes(app, CONTROL_PREFIX, lambda request: request.app[CONTEXT_KEY])
    network.install(app, lambda request: request.app[CONTEXT_KEY], CONTROL_PREFIX)
    app.router.add_route("*", "/{tail:.*}", _no_route)
    return app


@web.middleware
async def _cloudflare_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn :class:`CloudflareError` into its v4 envelope; never leak a traceback."""
    try:
        return await handler(request)
    except CloudflareError as err:
        _LOGGER.debug("%s %s -> %s %s", request.method, request.path, err.status, err.code)
        return err.response()
    except web.HTTPException:
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        _LOGGER.exception("Internal error answering %s %s", request.method, request.path)
        return web.json_response(error_envelope(3001, "Internal server error"), status=500)


async def _api_preamble(request: web.Request, *, model_call: bool) -> EmulatorContext:
    """Latency fault, auth (401/10000), account (401/10000 on model calls, 403/10000 on the
    models search; live probes), injected failures (model calls)."""
    context = request.app[CONTEXT_KEY]
    if context.faults.latency_ms > 0:
        await asyncio.sleep(context.faults.latency_ms / 1000)
    check_token(request, context.config.api_token)
    check_account(request, context.config.account_id, status=401 if model_call else 403)
    if model_call:
        failure = context.faults.take_failure()
        if failure is not None:
            _LOGGER.info("Fault: failing %s with %s/%s", request.path, failure.status, failure.code)
            raise failure
    return context


def _model(request: web.Request) -> ModelInfo:
    model_id = request.match_info["model"]
    model = MODELS.get(model_id)
    if model is None:
        raise no_such_model(model_id)
    return model


async def _run_rest(request: web.Request) -> web.StreamResponse:
    context = request.app[CONTEXT_KEY]
    # Edge checks come first: a chunked or oversized body is refused before it is read.
    check_body_headers(request, context)
    await _api_preamble(request, model_call=True)
    model = _model(request)
    handler = _REST.get(model.kind)
    if handler is None:
        # Flux: "WebSocket only as it requires live bi-directional streaming"
        # (https://developers.cloudflare.com/workers-ai/models/flux/).
        raise bad_input(
            f"{model.model_id} is available over WebSocket only: open a WebSocket "
            "(GET with Upgrade: websocket) on this URL"
        )
    body = await read_body(request, context)
    return await handler(request, context, model, body)


async def _run_websocket(request: web.Request) -> web.StreamResponse:
    context = await _api_preamble(request, model_call=True)
    model = _model(request)
    handler = _WS.get(model.kind)
    if handler is None:
        raise bad_input(f"{model.model_id} does not support WebSocket connections; use POST")
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise bad_input(f"{model.model_id} over GET needs a WebSocket upgrade (Upgrade: websocket)")
    return await handler(request, context, model)


async def _models_search(request: web.Request) -> web.StreamResponse:
    await _api_preamble(request, model_call=False)
    query = request.query
    entries = search_catalog(task=query.get("task"), search=query.get("search"))
    per_page = _positive_int(query.get("per_page"), default=20)
    page = _positive_int(query.get("page"), default=1)
    selected = entries[(page - 1) * per_page : page * per_page]
    body = success_envelope(selected)
    body["result_info"] = {
        "count": len(selected),
        "page": page,
        "per_page": per_page,
        "total_count": len(entries),
    }
    return web.json_response(body)


def _positive_int(value: str | None, *, default: int) -> int:
    """Lenient query integer: anything not a positive integer gives ``default``."""
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if number > 0 else default


async def _no_route(request: web.Request) -> web.StreamResponse:
    return web.json_response(error_envelope(7000, "No route for that URI"), status=404)
