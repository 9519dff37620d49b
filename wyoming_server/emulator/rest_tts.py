"""REST speech synthesis: aura-1, aura-2-en, aura-2-es (raw audio body) and melotts (base64 WAV
in the envelope): the model pages (https://developers.cloudflare.com/workers-ai/models/aura-1/,
.../aura-2-en/, .../aura-2-es/, .../melotts/), overridden by live probes (published in
https://github.com/xujialiu/Zotero-TTS, notes/NOTES_2026-09-07.md, and
https://github.com/cloudflare/cloudflare-docs/issues/25480):
melotts answers WAV (RIFF, 44.1 kHz mono 16-bit) whatever its schema says, refuses ``lang`` es
and fr with 404/8002, fails with 500 on an upper-case or missing ``lang``; empty text is
400/8007; aura may ignore ``encoding`` (the ``aura_rest_ignores_encoding`` fault)."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from . import neurons, schemas, tts
from .audio import OutputFormat, encode
from .context import EmulatorContext
from .errors import (
    CloudflareError,
    bad_input,
    empty_text,
    incomplete_request,
    invalid_input,
    language_refused,
    success_envelope,
)
from .formats import rest_format
from .models import ModelInfo
from .rest_asr import is_json, parse_json, without_options
from .voices import speaker_length_scale

MAX_TEXT_CHARS = 2000
"""Longest aura ``text`` in characters (Deepgram's REST limit,
https://developers.deepgram.com/docs/text-to-speech; Workers AI's is unknown)."""

MELOTTS_REFUSED = frozenset({"es", "fr"})
"""melotts ``lang`` values Workers AI refuses with 404/8002 (live probes); other lower-case codes
give audio (en, zh, ja, ko; unknown codes "in some language")."""

_MELOTTS_WAV = OutputFormat("linear16", "wav", 44100)
_AURA_DEFAULT = OutputFormat("mp3", "none", 22050, 48000)


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
        raise empty_text()
    if len(text) > MAX_TEXT_CHARS:
        raise invalid_input(f"text is longer than {MAX_TEXT_CHARS} characters")
    fmt = rest_format(payload)
    if context.faults.aura_rest_ignores_encoding:
        fmt = _AURA_DEFAULT  # live probes: encoding/container not honoured over REST
    scale = speaker_length_scale(model.model_id, payload.get("speaker"))
    pcm = await tts.synthesize(text, scale, context.faults.model_latency_ms)
    data = encode(pcm, tts.PIPER_RATE, fmt)
    neurons.charge(request, model.model_id, chars=len(text))
    return web.Response(body=data, content_type=fmt.content_type)


async def handle_melotts(
    request: web.Request, context: EmulatorContext, model: ModelInfo, body: bytes
) -> web.StreamResponse:
    """melotts: JSON ``{prompt, lang}`` → ``{"result":{"audio":"<base64 WAV>"}}`` (live probes)."""
    if body and is_json(request):
        try:
            raw = parse_json(body)
        except CloudflareError:
            raw = None
        if isinstance(raw, dict) and isinstance(raw.get("prompt"), str) and not raw["prompt"]:
            raise empty_text()  # checked before the schema's minLength (live probes)
    payload = _json_payload(request, body, schemas.MELOTTS_INPUT)
    lang = payload.get("lang")
    if not isinstance(lang, str) or lang != lang.lower():
        # Live probes: upper-case or missing lang → HTTP 500.
        raise CloudflareError(500, 3001, "Internal server error")
    if lang in MELOTTS_REFUSED:
        raise language_refused()
    prompt = str(payload["prompt"])
    if not prompt.strip():
        raise empty_text()
    scale = speaker_length_scale(model.model_id, lang)
    pcm = await tts.synthesize(prompt, scale, context.faults.model_latency_ms)
    data = encode(pcm, tts.PIPER_RATE, _MELOTTS_WAV)
    neurons.charge(request, model.model_id, seconds=len(pcm) / 2 / tts.PIPER_RATE)
    return web.json_response(success_envelope({"audio": base64.b64encode(data).decode()}))
