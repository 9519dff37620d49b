"""REST speech synthesis: aura-1, aura-2-en, aura-2-es (raw audio body) and melotts (base64 MP3
in the envelope). workers-ai-speech-api.md §5.1-5.3, §5.5, §1.4."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from . import billing, schemas, tts
from .audio import OutputFormat, encode
from .context import EmulatorContext
from .errors import bad_input, incomplete_request, invalid_input, success_envelope
from .formats import rest_format
from .models import ModelInfo
from .rest_asr import is_json, parse_json, without_options
from .voices import speaker_length_scale

MAX_TEXT_CHARS = 2000
"""Longest aura ``text`` in characters (Deepgram's REST limit, §2.3; Workers AI's is unknown)."""

MELOTTS_LANGUAGES = frozenset({"en", "es", "fr", "zh", "ja", "jp", "ko", "kr"})
"""melotts ``lang`` values the emulator accepts (upstream MeloTTS languages, §5.5)."""

_MELOTTS_MP3 = OutputFormat("mp3", "none", 22050, 48000)


def _json_payload(request: web.Request, body: bytes, schema: dict[str, Any]) -> dict[str, Any]:
    if not body:
        raise incomplete_request("body")
    if not is_json(request):
        raise bad_input("Error: Type mismatch of '/', 'object' not in 'string' (send JSON)")
    payload = without_options(parse_json(body))
    schemas.validate(schema, payload)
    assert isinstance(payload, dict)
    return payload


async def handle_aura(
    request: web.Request, context: EmulatorContext, model: ModelInfo, body: bytes
) -> web.StreamResponse:
    """aura-*: JSON ``{text, speaker?, encoding?, container?, sample_rate?, bit_rate?}`` →
    raw audio (MP3 ``audio/mpeg`` by default)."""
    payload = _json_payload(request, body, schemas.INPUT_SCHEMAS[model.model_id])
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise invalid_input("text is required and must not be empty")
    if len(text) > MAX_TEXT_CHARS:
        raise invalid_input(f"text is longer than {MAX_TEXT_CHARS} characters")
    fmt = rest_format(payload)
    scale = speaker_length_scale(model.model_id, payload.get("speaker"))
    pcm = await tts.synthesize(text, scale, context.faults.model_latency_ms)
    data = encode(pcm, tts.PIPER_RATE, fmt)
    billing.bill_text(request, model, len(text))
    return web.Response(body=data, content_type=fmt.content_type)


async def handle_melotts(
    request: web.Request, context: EmulatorContext, model: ModelInfo, body: bytes
) -> web.StreamResponse:
    """melotts: JSON ``{prompt, lang?}`` → ``{"result":{"audio":"<base64 MP3>"}}``."""
    payload = _json_payload(request, body, schemas.MELOTTS_INPUT)
    lang = str(payload.get("lang", "en"))
    if lang.lower() not in MELOTTS_LANGUAGES:
        raise invalid_input(f"unsupported lang '{lang}'")
    prompt = str(payload["prompt"])
    if not prompt.strip():
        raise invalid_input("prompt must not be blank")
    scale = speaker_length_scale(model.model_id, lang.lower())
    pcm = await tts.synthesize(prompt, scale, context.faults.model_latency_ms)
    data = encode(pcm, tts.PIPER_RATE, _MELOTTS_MP3)
    billing.bill_audio(request, model, len(pcm) / (2 * tts.PIPER_RATE))
    return web.json_response(success_envelope({"audio": base64.b64encode(data).decode()}))
