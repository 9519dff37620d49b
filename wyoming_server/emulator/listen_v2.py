"""Stub (being written)."""

from __future__ import annotations

from aiohttp import web

from .context import EmulatorContext
from .errors import no_such_model
from .models import ModelInfo


async def serve(request: web.Request, context: EmulatorContext, model: ModelInfo) -> web.StreamResponse:
    raise no_such_model(model.model_id)
