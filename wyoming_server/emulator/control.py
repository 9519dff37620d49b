"""The emulator's own HTTP control API for fault injection.

``GET /__emulator__/faults`` → current settings; ``POST`` (JSON object, see
:func:`.faults.parse_settings`) → apply and return the settings; ``DELETE`` → reset all faults.
Requires the emulator's API token (``Authorization: Bearer``), answers 401/10000 otherwise and
400 (code 1000) for invalid settings. The path cannot collide with Cloudflare's ``/client/v4``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from aiohttp import web

from .auth import check_token
from .context import EmulatorContext
from .errors import CloudflareError, success_envelope

_LOGGER = logging.getLogger(__name__)


def add_routes(
    app: web.Application, prefix: str, get_context: Callable[[web.Request], EmulatorContext]
) -> None:
    """Register the control routes under ``prefix``."""

    async def faults(request: web.Request) -> web.StreamResponse:
        context = get_context(request)
        check_token(request, context.config.api_token)
        if request.method == "DELETE":
            context.faults.reset()
            _LOGGER.info("Faults reset")
        elif request.method == "POST":
            try:
                settings = json.loads(await request.text() or "{}")
            except ValueError as err:
                raise CloudflareError(400, 1000, f"Invalid fault settings: {err}") from err
            if not isinstance(settings, dict):
                raise CloudflareError(400, 1000, "Invalid fault settings: expected a JSON object")
            try:
                context.faults.update(settings)
            except ValueError as err:
                raise CloudflareError(400, 1000, f"Invalid fault settings: {err}") from err
            _LOGGER.info("Faults set: %s", context.faults.snapshot())
        return web.json_response(success_envelope(context.faults.snapshot()))

    for method in ("GET", "POST", "DELETE"):
        app.router.add_route(method, f"{prefix}/faults", faults)
