"""Stub (being written)."""

from __future__ import annotations

from aiohttp import web

from .context import EmulatorContext
from .errors import no_such_model
from .models import ModelInfo


async def _stub(
    request: web.Request, context: EmulatorContext, model: ModelInfo, body: bytes
) -> web.StreamResponse:
    raise no_such_model(model.model_id)


handle_whisper = handle_whisper_turbo = handle_nova_3 = handle_aura = handle_melotts = _stub
