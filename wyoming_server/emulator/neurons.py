"""The ``cf-ai-neurons`` response header: what a call cost, in neurons.

Workers AI replies carry ``cf-ai-neurons`` (seen on every reply by live probes published in
https://github.com/xujialiu/Zotero-TTS, notes/NOTES_2026-09-07.md). The emulator
charges the list prices of https://developers.cloudflare.com/workers-ai/platform/pricing/
(neurons per audio minute for ASR and MeloTTS, per 1,000 characters for aura). Every response
gets the header, ``0`` when nothing was charged (errors, WebSocket handshakes: what Cloudflare
reports for a WebSocket session is unknown).
"""

from __future__ import annotations

from aiohttp import web

HEADER = "cf-ai-neurons"
_KEY = "emulator_neurons"

PER_AUDIO_MINUTE: dict[str, float] = {
    "@cf/openai/whisper": 41.14,
    "@cf/openai/whisper-large-v3-turbo": 46.63,
    "@cf/openai/whisper-tiny-en": 0.604,
    "@cf/deepgram/nova-3": 472.73,
    "@cf/myshell-ai/melotts": 18.63,
}
PER_1K_CHARS: dict[str, float] = {
    "@cf/deepgram/aura-1": 1363.64,
    "@cf/deepgram/aura-2-en": 2727.27,
    "@cf/deepgram/aura-2-es": 2727.27,
}


def charge(request: web.Request, model_id: str, *, seconds: float = 0.0, chars: int = 0) -> None:
    """Record the cost of this request (audio ``seconds`` or text ``chars``)."""
    neurons = PER_AUDIO_MINUTE.get(model_id, 0.0) * seconds / 60
    neurons += PER_1K_CHARS.get(model_id, 0.0) * chars / 1000
    request[_KEY] = round(neurons, 3)


async def add_header(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: every response carries ``cf-ai-neurons``."""
    response.headers[HEADER] = f"{request.get(_KEY, 0.0):g}"
