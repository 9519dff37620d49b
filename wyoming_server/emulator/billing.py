"""The ``cf-ai-neurons`` response header: what a call cost, as Workers AI reports it.

Workers AI replies carry ``cf-ai-neurons`` (workers-ai-speech-api.md §9 C12). The emulator
computes it from the model's list price (:attr:`ModelInfo.price`, US dollars) at $0.011 per
1,000 neurons (https://developers.cloudflare.com/workers-ai/platform/pricing/): per audio minute
for ASR and MeloTTS, per 1,000 characters for aura. REST replies only: whether a WebSocket
handshake carries it is not known.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from .models import ModelInfo

USD_PER_NEURON: Final = 0.011 / 1000
_KEY: Final = "cf_ai_neurons"


def _usd(model: ModelInfo) -> float:
    rest = [price for unit, price, _ in model.price if "websocket" not in unit]
    return rest[0] if rest else 0.0


def bill_audio(request: web.Request, model: ModelInfo, seconds: float) -> None:
    """Charge ``seconds`` of audio (in or out) at the model's per-minute price."""
    request[_KEY] = _usd(model) * seconds / 60 / USD_PER_NEURON


def bill_text(request: web.Request, model: ModelInfo, characters: int) -> None:
    """Charge ``characters`` of text at the model's per-1,000-characters price."""
    request[_KEY] = _usd(model) * characters / 1000 / USD_PER_NEURON


async def add_header(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: send the charge of a successful call."""
    neurons = request.get(_KEY)
    if neurons is not None and response.status < 400:
        response.headers["cf-ai-neurons"] = f"{neurons:.6g}"
