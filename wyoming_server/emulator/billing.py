"""The ``cf-ai-neurons`` answer header: what a call cost, in neurons.

Real answers carry it (workers-ai-speech-api.md §9 C12). The emulator bills like Cloudflare's
price list (https://developers.cloudflare.com/workers-ai/platform/pricing/, "Audio model
pricing"): ASR per audio minute heard, aura per 1,000 characters, MeloTTS per audio minute
synthesized.
"""

from __future__ import annotations

from ..workers_ai.usage import NEURONS_HEADER, Transport, estimate_neurons


def neurons_header(
    model_id: str, *, audio_seconds: float | None = None, characters: int | None = None
) -> dict[str, str]:
    """Headers of a successful REST answer that processed ``audio_seconds`` of audio or
    ``characters`` of text (empty when the model has no price)."""
    neurons = estimate_neurons(
        model_id, Transport.REST, audio_seconds=audio_seconds, characters=characters
    )
    return {} if neurons is None else {NEURONS_HEADER: f"{neurons:.6g}"}
