"""REST speech recognition: whisper, whisper-tiny-en, whisper-large-v3-turbo, nova-3.

Request conventions (the model pages, https://developers.cloudflare.com/workers-ai/models/):
whisper / tiny-en take the audio
file as the body or ``{"audio":[uint8...]}``; turbo takes ``{"audio":"<base64>", ...}``; nova-3
takes the file as the body with its ``Content-Type`` and options in the query (JSON rejected).
Answers are v4 envelopes around each model's output schema (same pages).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import numpy as np
from aiohttp import web

from . import asr, audio, neurons, schemas
from .context import EmulatorContext
from .errors import bad_input, incomplete_request, invalid_input, success_envelope
from .models import ModelInfo
from .query import GENERIC_PARAMS, query_instance
from .results import deepgram_alternative, whisper_result, whisper_turbo_result
from .transcript import Options

NOVA_3_LANGUAGES = frozenset(
    {
        "en", "en-US", "en-AU", "en-GB", "en-IN", "en-NZ", "es", "es-419", "fr", "fr-CA", "de",
        "de-CH", "hi", "ru", "pt", "pt-BR", "pt-PT", "ja", "it", "nl", "multi",
    }
)  # fmt: skip
"""nova-3 ``language`` values (https://developers.cloudflare.com/workers-ai/models/nova-3/;
``multi`` = multilingual)."""

_RAW_ENCODINGS = ("linear16", "mulaw", "alaw")


def is_json(request: web.Request) -> bool:
    """True when the request declares a JSON body."""
    return request.content_type == "application/json"


def parse_json(body: bytes) -> Any:
    """Parse a JSON body; 400/3010 ("failed to decode JSON") when it is not JSON."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise invalid_input(f"failed to decode JSON: {err}") from err


def without_options(payload: Any) -> Any:
    """Drop the top-level ``options`` object (``rejectIfBusy``,
    https://developers.cloudflare.com/workers-ai/features/reject-if-busy/) before validation."""
    if isinstance(payload, dict) and isinstance(payload.get("options"), dict):
        options = payload["options"]
        unknown = set(options) - {"rejectIfBusy"}
        if unknown:
            raise bad_input(f"Error: unknown option(s) {sorted(unknown)} at '/options'")
        return {k: v for k, v in payload.items() if k != "options"}
    return payload


def decode(data: bytes) -> audio.FloatAudio:
    """Decode an audio file; 400/3010 when it is not decodable audio."""
    try:
        return audio.decode_file(data)
    except audio.AudioDecodeError as err:
        raise invalid_input(f"could not decode audio: {err}") from err


async def handle_whisper(
    request: web.Request, context: EmulatorContext, model: ModelInfo, body: bytes
) -> web.StreamResponse:
    """whisper / whisper-tiny-en: raw audio body or ``{"audio":[0..255,...]}``."""
    if not body:
        raise incomplete_request("body")
    if is_json(request):
        payload = without_options(parse_json(body))
        schemas.validate(schemas.WHISPER_INPUT, payload)
        if not isinstance(payload, dict):
            raise invalid_input('expected audio bytes or {"audio": [0..255, ...]}')
        values = payload["audio"]
        if not all(isinstance(v, int | float) and float(v).is_integer() for v in values):
            raise invalid_input("audio must be an array of integers between 0 and 255")
        try:
            data = bytes(int(v) for v in values)
        except ValueError as err:
            raise invalid_input("audio must be an array of integers between 0 and 255") from err
    else:
        data = body
    samples = decode(data)
    neurons.charge(request, model.model_id, seconds=len(samples) / audio.WHISPER_RATE)
    transcript = await asr.transcribe(samples, Options(), context.faults.model_latency_ms)
    return web.json_response(success_envelope(whisper_result(transcript)))


async def handle_whisper_turbo(
    request: web.Request, context: EmulatorContext, model: ModelInfo, body: bytes
) -> web.StreamResponse:
    """whisper-large-v3-turbo: ``{"audio":"<base64>", "language"?, "task"?, ...}``."""
    if not body:
        raise incomplete_request("body")
    if not is_json(request):
        raise bad_input(
            "Error: Type mismatch of '/', 'object' not in 'string' (send a JSON body "
            "with base64 audio)"
        )
    payload = without_options(parse_json(body))
    schemas.validate(schemas.WHISPER_TURBO_INPUT, payload)
    assert isinstance(payload, dict)
    if not isinstance(payload["audio"], str):
        raise invalid_input(
            "audio {body, contentType} is the Workers binding's stream form; "
            "send the audio as a base64 string over REST"
        )
    try:
        data = base64.b64decode(payload["audio"], validate=True)
    except (binascii.Error, ValueError) as err:
        raise invalid_input(f"audio is not valid base64: {err}") from err
    task = payload.get("task", "transcribe")
    if task not in ("transcribe", "translate"):
        raise invalid_input(f"unsupported task '{task}': use 'transcribe' or 'translate'")
    options = Options(
        language=payload.get("language"),
        task=task,
        beam_size=int(payload.get("beam_size", 1)),
        initial_prompt=payload.get("initial_prompt"),
        prefix=payload.get("prefix"),
        vad_filter=bool(payload.get("vad_filter", False)),
        condition_on_previous_text=bool(payload.get("condition_on_previous_text", True)),
        no_speech_threshold=float(payload.get("no_speech_threshold", 0.6)),
        compression_ratio_threshold=float(payload.get("compression_ratio_threshold", 2.4)),
        log_prob_threshold=float(payload.get("log_prob_threshold", -1.0)),
        hallucination_silence_threshold=payload.get("hallucination_silence_threshold"),
    )
    if options.beam_size < 1:
        raise invalid_input("beam_size must be >= 1")
    samples = decode(data)
    neurons.charge(request, model.model_id, seconds=len(samples) / audio.WHISPER_RATE)
    transcript = await asr.transcribe(samples, options, context.faults.model_latency_ms)
    return web.json_response(success_envelope(whisper_turbo_result(transcript)))


async def handle_nova_3(
    request: web.Request, context: EmulatorContext, model: ModelInfo, body: bytes
) -> web.StreamResponse:
    """nova-3: audio body + ``Content-Type``, options as query parameters
    (https://developers.cloudflare.com/workers-ai/models/nova-3/).

    JSON (e.g. base64 audio) is rejected with 400/5006, like the real service (observed by
    projects calling it).
    ``encoding`` linear16/mulaw/alaw means raw samples at ``sample_rate`` Hz (an extra
    parameter the schema lacks); otherwise any container FFmpeg decodes.
    """
    if is_json(request):
        raise bad_input(
            "Error: Type mismatch of '/audio', 'object' not in 'string': send the "
            "audio itself as the body with its audio Content-Type; options go in the "
            "query string"
        )
    if request.query.get("queueRequest", "false").lower() == "true":
        raise invalid_input("queueRequest (async batch) is not supported by the emulator")
    if not body:
        raise incomplete_request("body")
    instance = query_instance(
        request.query, schemas.NOVA_3_INPUT, skip=(*GENERIC_PARAMS, "sample_rate")
    )
    utterance_end = instance.get("utterance_end_ms")
    if isinstance(utterance_end, str) and utterance_end.isdigit():
        instance["utterance_end_ms"] = True  # schema says boolean; real value is ms
    instance["audio"] = {"body": {}, "contentType": request.content_type}
    schemas.validate(schemas.NOVA_3_INPUT, instance)
    options = nova_options(request, instance)
    encoding = instance.get("encoding")
    if encoding in _RAW_ENCODINGS:
        channels = instance.get("channels", 1)
        samples = _raw_samples(request, body, str(encoding), int(channels))
    else:
        samples = decode(body)
    neurons.charge(request, model.model_id, seconds=len(samples) / audio.WHISPER_RATE)
    transcript = await asr.transcribe(samples, options, context.faults.model_latency_ms)
    punctuate = bool(instance.get("punctuate") or instance.get("smart_format"))
    channel: dict[str, Any] = {
        "alternatives": [deepgram_alternative(transcript.words, punctuate=punctuate)]
    }
    if instance.get("detect_language"):
        channel["detected_language"] = "en"
        channel["language_confidence"] = transcript.language_probability
    result = {"results": {"channels": [channel]}}
    return web.json_response(success_envelope(result))


def nova_options(request: web.Request, instance: dict[str, Any]) -> Options:
    """Whisper options for validated nova-3 inputs: language check, keyterms as hotwords.

    Raises 400/3010 for a language nova-3 does not have (observed by projects
    calling the API: "No such model/language/tier combination found") or keyterms with
    multilingual routing (observed likewise).
    """
    language = str(instance.get("language", "en-US"))
    if language not in NOVA_3_LANGUAGES:
        raise invalid_input("No such model/language/tier combination found")
    keyterms = tuple(request.query.getall("keyterm", ()))
    if keyterms and (language == "multi" or instance.get("detect_language")):
        raise invalid_input(
            "keyterm is not supported with multilingual language detection; set a language"
        )
    keywords = tuple(request.query.getall("keywords", ()))
    return Options(language=language.split("-", maxsplit=1)[0], hotwords=keyterms + keywords)


def _raw_samples(
    request: web.Request, body: bytes, encoding: str, channels: int
) -> audio.FloatAudio:
    rate = request.query.get("sample_rate", "")
    if not 1 <= channels <= 8:
        raise bad_input("Error: channels must be between 1 and 8")
    if not rate.isdigit() or not 4000 <= int(rate) <= 192000:
        raise bad_input(f"Error: encoding={encoding} needs a sample_rate in Hz")
    converter = audio.StreamResampler(int(rate), channels=channels, encoding=encoding)
    return np.concatenate([converter.feed(body), converter.flush()])
