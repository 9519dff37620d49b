"""The ``cf-ai-neurons`` answer header: what a call cost, in neurons.

Real answers carry it (workers-ai-speech-api.md §9 C12). The emulator bills like Cloudflare's
price list (https://developers.cloudflare.com/workers-ai/platform/pricing/, "Audio model
pricing"): ASR per audio minute heard, aura per 1,000 characters, MeloTTS per audio minute
synthesized. Handlers note what they processed on the request; :func:`set_neurons_header` turns
it into the header of a successful REST answer.
"""

from __future__ import annotations

from aiohttp import web

from ..workers_ai.usage import NEURONS_HEADER, Transport, estimate_neurons

AUDIO_SECONDS_KEY = "billed_audio_seconds"
CHARACTERS_KEY = "billed_characters"


def bill_audio(request: web.Request, seconds: float) -> None:
    """Note ``seconds`` of audio heard or synthesized for this request."""
    request[AUDIO_SECONDS_KEY] = seconds


def bill_characters(request: web.Request, characters: int) -> None:
    """Note ``characters`` of text synthesized for this request."""
    request[CHARACTERS_KEY] = characters


def set_neurons_header(request: web.Request, response: web.StreamResponse, model_id: str) -> None:
    """Put ``cf-ai-neurons`` on a successful answer (nothing when nothing was billed)."""
    neurons = estimate_neurons(
        model_id,
        Transport.REST,
        audio_seconds=request.get(AUDIO_SECONDS_KEY),
        characters=request.get(CHARACTERS_KEY),
    )
    if neurons is not None and response.status < 400 and not response.prepared:
        response.headers[NEURONS_HEADER] = f"{neurons:.6g}"
