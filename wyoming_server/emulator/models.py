"""The models the emulator serves, with their catalog entries for ``ai/models/search``.

Model IDs and transports: https://developers.cloudflare.com/workers-ai/models/ (ASR, TTS). Catalog
entry shape (``id``, ``source``, ``name``, ``description``, ``task``, ``tags``, ``properties``) is
Cloudflare's models search result (the shape of ``ai/models`` in https://github.com/cloudflare/cloudflare-python).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any

ASR_TASK = {
    "id": "dfce1c48-2a81-462e-a7fd-de97ce985207",
    "name": "Automatic Speech Recognition",
    "description": "Automatic speech recognition (ASR) models convert a speech signal, typically "
    "an audio input, to text.",
}
TTS_TASK = {
    "id": "b52660a1-9a95-4ab2-8b1d-f232be34604a",
    "name": "Text-to-Speech",
    "description": "Text-to-Speech (TTS) is the task of generating natural sounding speech given "
    "text input.",
}


class Kind(Enum):
    """How a model is called (each model's page under
    https://developers.cloudflare.com/workers-ai/models/)."""

    WHISPER = "whisper"  # raw audio or {"audio":[uint8]} (whisper, whisper-tiny-en)
    WHISPER_TURBO = "whisper-turbo"  # {"audio": base64, ...}
    NOVA_3 = "nova-3"  # raw audio + query options, listen v1 WebSocket
    FLUX = "flux"  # listen v2 WebSocket only
    AURA = "aura"  # {"text", "speaker", ...} → raw audio, speak v1 WebSocket
    MELOTTS = "melotts"  # {"prompt","lang"} → {"audio": base64 WAV in practice}


@dataclass(frozen=True)
class ModelInfo:
    """One served model: its kind, transports and catalog description."""

    model_id: str
    kind: Kind
    rest: bool
    websocket: bool
    description: str
    created_at: str
    beta: bool = False
    price: tuple[tuple[str, float, str], ...] = ()  # (unit, price USD, currency)

    @property
    def is_asr(self) -> bool:
        """True for speech recognition models."""
        return self.kind in (Kind.WHISPER, Kind.WHISPER_TURBO, Kind.NOVA_3, Kind.FLUX)

    def catalog_entry(self) -> dict[str, Any]:
        """The entry ``GET .../ai/models/search`` lists for this model."""
        properties: list[dict[str, Any]] = []
        if self.beta:
            properties.append({"property_id": "beta", "value": "true"})
        if self.price:
            properties.append(
                {
                    "property_id": "price",
                    "value": [
                        {"unit": unit, "price": price, "currency": currency}
                        for unit, price, currency in self.price
                    ],
                }
            )
        if self.kind in (Kind.NOVA_3, Kind.FLUX, Kind.AURA):
            properties.append({"property_id": "partner", "value": "true"})
            properties.append({"property_id": "realtime", "value": "true"})
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, self.model_id)),
            "source": 1,
            "name": self.model_id,
            "description": self.description,
            "task": dict(ASR_TASK if self.is_asr else TTS_TASK),
            "created_at": self.created_at,
            "tags": [],
            "properties": properties,
        }


_PER_MIN = "per audio minute"
_PER_1K = "per 1k characters"

MODELS: dict[str, ModelInfo] = {
    m.model_id: m
    for m in (
        ModelInfo(
            "@cf/openai/whisper", Kind.WHISPER, rest=True, websocket=False,
            description="Whisper is a general-purpose speech recognition model.",
            created_at="2023-09-25 19:21:11.898", price=((_PER_MIN, 0.0005, "USD"),),
        ),
        ModelInfo(
            "@cf/openai/whisper-tiny-en", Kind.WHISPER, rest=True, websocket=False,
            description="Whisper tiny, English-only speech recognition model.",
            created_at="2024-04-22 20:59:02.731", beta=True,
        ),
        ModelInfo(
            "@cf/openai/whisper-large-v3-turbo", Kind.WHISPER_TURBO, rest=True, websocket=False,
            description="Whisper large-v3-turbo: a faster Whisper large-v3 for speech "
            "recognition and translation.",
            created_at="2024-05-22 00:02:18.656", price=((_PER_MIN, 0.0005, "USD"),),
        ),
        ModelInfo(
            "@cf/deepgram/nova-3", Kind.NOVA_3, rest=True, websocket=True,
            description="Transcribe audio using Deepgram's speech-to-text model.",
            created_at="2025-06-05 16:05:15.199",
            price=((_PER_MIN, 0.0052, "USD"), (_PER_MIN + " (websocket)", 0.0092, "USD")),
        ),
        ModelInfo(
            "@cf/deepgram/flux", Kind.FLUX, rest=False, websocket=True,
            description="Flux is the first conversational speech recognition model built "
            "specifically for voice agents.",
            created_at="2025-09-29 21:07:55.114",
            price=((_PER_MIN + " (websocket)", 0.0077, "USD"),),
        ),
        ModelInfo(
            "@cf/deepgram/aura-1", Kind.AURA, rest=True, websocket=True,
            description="Aura is a context-aware text-to-speech (TTS) model.",
            created_at="2025-08-27 01:18:18.880", price=((_PER_1K, 0.015, "USD"),),
        ),
        ModelInfo(
            "@cf/deepgram/aura-2-en", Kind.AURA, rest=True, websocket=True,
            description="Aura-2 is a context-aware text-to-speech (TTS) model (English).",
            created_at="2025-10-09 18:30:00.000", price=((_PER_1K, 0.03, "USD"),),
        ),
        ModelInfo(
            "@cf/deepgram/aura-2-es", Kind.AURA, rest=True, websocket=True,
            description="Aura-2 is a context-aware text-to-speech (TTS) model (Spanish).",
            created_at="2025-10-09 18:30:00.000", price=((_PER_1K, 0.03, "USD"),),
        ),
        ModelInfo(
            "@cf/myshell-ai/melotts", Kind.MELOTTS, rest=True, websocket=False,
            description="MeloTTS is a high-quality multi-lingual text-to-speech library by "
            "MyShell.ai.",
            created_at="2024-07-19 15:51:04.819", price=((_PER_MIN, 0.0002, "USD"),),
        ),
    )
}  # fmt: skip


def search_catalog(task: str | None = None, search: str | None = None) -> list[dict[str, Any]]:
    """Catalog entries matching ``task`` (name like "Text-to-Speech" or slug like
    "text-to-speech", case-insensitive) and ``search`` (substring of name or description)."""
    entries = [m.catalog_entry() for m in MODELS.values()]
    if task:
        wanted = _slug(task)
        entries = [e for e in entries if _slug(e["task"]["name"]) == wanted]
    if search:
        needle = search.lower()
        entries = [
            e for e in entries if needle in e["name"].lower() or needle in e["description"].lower()
        ]
    return entries


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())
