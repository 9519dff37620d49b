# ruff: noqa: E501  (the schemas are verbatim data)
"""The models' input JSON schemas, copied verbatim from Cloudflare's model catalog, and validation.

Sources: the model pages https://developers.cloudflare.com/workers-ai/models/<name>/ (their JSON in
https://github.com/cloudflare/cloudflare-docs, ``src/content/workers-ai-models/<name>.json``):
whisper, whisper-tiny-en (identical), whisper-large-v3-turbo (newest), nova-3, flux (corrected
``required`` placement), aura-1, aura-2-en (newest: no ``required``), aura-2-es, melotts
(newest). Descriptions shortened where the source elides them. The emulator validates strictly: every object schema gets
``additionalProperties: false`` (Cloudflare rejects unknown fields of strict schemas with 5006,
https://developers.cloudflare.com/workers-ai/platform/errors/), so the emulator never accepts what Cloudflare might reject.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from .errors import bad_input

WHISPER_INPUT: dict[str, Any] = json.loads("""
{ "oneOf": [
    { "type": "string", "format": "binary" },
    { "type": "object",
      "properties": { "audio": { "type": "array",
          "description": "An array of integers that represent the audio data constrained to 8-bit unsigned integer values",
          "items": { "type": "number", "description": "A value between 0 and 255" } } },
      "required": ["audio"] } ] }
""")

WHISPER_TURBO_INPUT: dict[str, Any] = json.loads("""
{ "type": "object",
  "properties": {
    "audio": { "anyOf": [
        { "type": "string", "description": "Base64 encoded value of the audio data." },
        { "type": "object", "properties": { "body": { "type": "object" }, "contentType": { "type": "string" } } } ] },
    "task": { "type": "string", "default": "transcribe", "description": "Supported tasks are 'translate' or 'transcribe'." },
    "language": { "type": "string", "description": "The language of the audio being transcribed or translated." },
    "vad_filter": { "type": "boolean", "default": false, "description": "Preprocess the audio with a voice activity detection model." },
    "initial_prompt": { "type": "string", "description": "A text prompt to help provide context to the model on the contents of the audio." },
    "prefix": { "type": "string", "description": "The prefix appended to the beginning of the output of the transcription and can guide the transcription result." },
    "beam_size": { "type": "integer", "default": 5, "description": "The number of beams to use in beam search decoding. Higher values may improve accuracy at the cost of speed." },
    "condition_on_previous_text": { "type": "boolean", "default": true, "description": "Whether to condition on previous text during transcription. Setting to false may help prevent hallucination loops." },
    "no_speech_threshold": { "type": "number", "default": 0.6, "description": "Threshold for detecting no-speech segments. Segments with no-speech probability above this value are skipped." },
    "compression_ratio_threshold": { "type": "number", "default": 2.4, "description": "Threshold for filtering out segments with high compression ratio, which often indicate repetitive or hallucinated text." },
    "log_prob_threshold": { "type": "number", "default": -1, "description": "Threshold for filtering out segments with low average log probability, indicating low confidence." },
    "hallucination_silence_threshold": { "type": "number", "description": "Optional threshold (in seconds) to skip silent periods that may cause hallucinations." } },
  "required": ["audio"] }
""")

NOVA_3_INPUT: dict[str, Any] = json.loads("""
{ "type": "object",
  "properties": {
    "audio": { "type": "object", "properties": { "body": { "type": "object" }, "contentType": { "type": "string" } }, "required": ["body","contentType"] },
    "custom_topic_mode": { "type": "string", "enum": ["extended","strict"] },
    "custom_topic": { "type": "string" },
    "custom_intent_mode": { "type": "string", "enum": ["extended","strict"] },
    "custom_intent": { "type": "string" },
    "detect_entities": { "type": "boolean" },
    "detect_language": { "type": "boolean" },
    "diarize": { "type": "boolean" },
    "dictation": { "type": "boolean" },
    "encoding": { "type": "string", "enum": ["linear16","flac","mulaw","amr-nb","amr-wb","opus","speex","g729"] },
    "extra": { "type": "string" },
    "filler_words": { "type": "boolean" },
    "keyterm": { "type": "string" },
    "keywords": { "type": "string" },
    "language": { "type": "string" },
    "measurements": { "type": "boolean" },
    "mip_opt_out": { "type": "boolean" },
    "mode": { "type": "string", "enum": ["general","medical","finance"] },
    "multichannel": { "type": "boolean" },
    "numerals": { "type": "boolean" },
    "paragraphs": { "type": "boolean" },
    "profanity_filter": { "type": "boolean" },
    "punctuate": { "type": "boolean" },
    "redact": { "type": "string" },
    "replace": { "type": "string" },
    "search": { "type": "string" },
    "sentiment": { "type": "boolean" },
    "smart_format": { "type": "boolean" },
    "topics": { "type": "boolean" },
    "utterances": { "type": "boolean" },
    "utt_split": { "type": "number" },
    "channels": { "type": "number" },
    "interim_results": { "type": "boolean" },
    "endpointing": { "type": "string" },
    "vad_events": { "type": "boolean" },
    "utterance_end_ms": { "type": "boolean" } },
  "required": ["audio"] }
""")

FLUX_INPUT: dict[str, Any] = json.loads("""
{ "type": "object",
  "properties": {
    "encoding": { "type": "string", "description": "Encoding of the audio stream. Currently only supports raw signed little-endian 16-bit PCM.", "enum": ["linear16"] },
    "sample_rate": { "type": "string", "description": "Sample rate of the audio stream in Hz.", "pattern": "^[0-9]+$" },
    "eager_eot_threshold": { "type": "string", "description": "End-of-turn confidence required to fire an eager end-of-turn event. When set, enables EagerEndOfTurn and TurnResumed events. Valid Values 0.3 - 0.9." },
    "eot_threshold": { "type": "string", "description": "End-of-turn confidence required to finish a turn. Valid Values 0.5 - 0.9.", "default": "0.7" },
    "eot_timeout_ms": { "type": "string", "description": "A turn will be finished when this much time has passed after speech, regardless of EOT confidence.", "default": "5000", "pattern": "^[0-9]+$" },
    "keyterm": { "type": "string", "description": "Keyterm prompting can improve recognition of specialized terminology. Pass multiple keyterm query parameters to boost multiple keyterms." },
    "mip_opt_out": { "type": "string", "description": "Opts out requests from the Deepgram Model Improvement Program.", "enum": ["true","false"], "default": "false" },
    "tag": { "type": "string", "description": "Label your requests for the purpose of identification during usage reporting" } },
  "required": ["sample_rate", "encoding"] }
""")

_AURA_TEMPLATE = """
{ "type": "object",
  "properties": {
    "speaker": { "type": "string", "enum": %s, "default": "%s", "description": "Speaker used to produce the audio." },
    "encoding": { "type": "string", "enum": ["linear16","flac","mulaw","alaw","mp3","opus","aac"], "description": "Encoding of the output audio." },
    "container": { "type": "string", "enum": ["none","wav","ogg"], "description": "Container specifies the file format wrapper for the output audio. The available options depend on the encoding type.." },
    "text": { "type": "string", "description": "The text content to be converted to speech" },
    "sample_rate": { "type": "number", "description": "Sample Rate specifies the sample rate for the output audio. Based on the encoding, different sample rates are supported. For some encodings, the sample rate is not configurable" },
    "bit_rate": { "type": "number", "description": "The bitrate of the audio in bits per second. Choose from predefined ranges or specific values based on the encoding type." } }
  %s }
"""

AURA_1_SPEAKERS: tuple[str, ...] = (
    "angus", "asteria", "arcas", "orion", "orpheus", "athena", "luna", "zeus", "perseus",
    "helios", "hera", "stella",
)  # fmt: skip
AURA_2_EN_SPEAKERS: tuple[str, ...] = (
    "amalthea", "andromeda", "apollo", "arcas", "aries", "asteria", "athena", "atlas", "aurora",
    "callista", "cora", "cordelia", "delia", "draco", "electra", "harmonia", "helena", "hera",
    "hermes", "hyperion", "iris", "janus", "juno", "jupiter", "luna", "mars", "minerva",
    "neptune", "odysseus", "ophelia", "orion", "orpheus", "pandora", "phoebe", "pluto",
    "saturn", "thalia", "theia", "vesta", "zeus",
)  # fmt: skip
AURA_2_ES_SPEAKERS: tuple[str, ...] = (
    "sirio", "nestor", "carina", "celeste", "alvaro", "diana", "aquila", "selena", "estrella",
    "javier",
)  # fmt: skip


def _aura(speakers: tuple[str, ...], default: str, *, required: bool) -> dict[str, Any]:
    text = _AURA_TEMPLATE % (
        json.dumps(list(speakers)),
        default,
        ', "required": ["text"]' if required else "",
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


AURA_1_INPUT = _aura(AURA_1_SPEAKERS, "angus", required=True)
AURA_2_EN_INPUT = _aura(AURA_2_EN_SPEAKERS, "luna", required=False)  # newest: no "required"
AURA_2_ES_INPUT = _aura(AURA_2_ES_SPEAKERS, "aquila", required=True)

MELOTTS_INPUT: dict[str, Any] = json.loads("""
{ "type": "object",
  "properties": {
    "prompt": { "type": "string", "minLength": 1, "description": "A text description of the audio you want to generate" },
    "lang": { "type": "string", "default": "en", "description": "The speech language (e.g., 'en' for English, 'fr' for French). Defaults to 'en' if not specified" } },
  "required": ["prompt"] }
""")

INPUT_SCHEMAS: dict[str, dict[str, Any]] = {
    "@cf/openai/whisper": WHISPER_INPUT,
    "@cf/openai/whisper-tiny-en": WHISPER_INPUT,
    "@cf/openai/whisper-large-v3-turbo": WHISPER_TURBO_INPUT,
    "@cf/deepgram/nova-3": NOVA_3_INPUT,
    "@cf/deepgram/flux": FLUX_INPUT,
    "@cf/deepgram/aura-1": AURA_1_INPUT,
    "@cf/deepgram/aura-2-en": AURA_2_EN_INPUT,
    "@cf/deepgram/aura-2-es": AURA_2_ES_INPUT,
    "@cf/myshell-ai/melotts": MELOTTS_INPUT,
}
"""Verbatim input schemas by model ID."""


def speakers(model_id: str) -> tuple[str, ...]:
    """The ``speaker`` enum of an aura model (empty for other models)."""
    prop = INPUT_SCHEMAS.get(model_id, {}).get("properties", {}).get("speaker", {})
    return tuple(prop.get("enum", ()))


def default_speaker(model_id: str) -> str | None:
    """The schema default ``speaker`` of an aura model."""
    prop = INPUT_SCHEMAS.get(model_id, {}).get("properties", {}).get("speaker", {})
    default = prop.get("default")
    return default if isinstance(default, str) else None


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` where every object schema forbids additional properties."""
    result = copy.deepcopy(schema)
    _close_objects(result)
    return result


def _close_objects(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close_objects(value)
    elif isinstance(node, list):
        for item in node:
            _close_objects(item)


_VALIDATORS: dict[int, Draft202012Validator] = {}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    key = id(schema)
    validator = _VALIDATORS.get(key)
    if validator is None:
        validator = Draft202012Validator(strict(schema))
        _VALIDATORS[key] = validator
    return validator


def validate(schema: dict[str, Any], instance: Any) -> None:
    """Validate ``instance`` against the strict form of ``schema``.

    Raises :class:`~.errors.CloudflareError` 400/5006 ``AiError: Bad input: Error: <what> at
    '<json pointer>'`` (the message shape of the errors page) for the most relevant violation.
    """
    errors = list(_validator(schema).iter_errors(instance))
    if not errors:
        return
    error = best_match(errors)
    assert isinstance(error, ValidationError)
    raise bad_input(f"Error: {error.message} at '{_pointer(error)}'")


def _pointer(error: ValidationError) -> str:
    return "/" + "/".join(str(part) for part in error.absolute_path)


# Output schemas (verbatim, descriptions shortened): what ``result`` holds.

WHISPER_OUTPUT: dict[str, Any] = json.loads("""
{ "type": "object", "contentType": "application/json",
  "properties": {
    "text": { "type": "string", "description": "The transcription" },
    "word_count": { "type": "number" },
    "words": { "type": "array", "items": { "type": "object", "properties": {
        "word": { "type": "string" },
        "start": { "type": "number", "description": "The second this word begins in the recording" },
        "end": { "type": "number", "description": "The ending second when the word completes" } } } },
    "vtt": { "type": "string" } },
  "required": ["text"] }
""")

WHISPER_TURBO_OUTPUT: dict[str, Any] = json.loads("""
{ "type": "object", "contentType": "application/json",
  "properties": {
    "transcription_info": { "type": "object", "properties": {
        "language": { "type": "string" },
        "language_probability": { "type": "number" },
        "duration": { "type": "number" },
        "duration_after_vad": { "type": "number" } } },
    "text": { "type": "string" },
    "word_count": { "type": "number" },
    "segments": { "type": "array", "items": { "type": "object", "properties": {
        "start": { "type": "number" }, "end": { "type": "number" }, "text": { "type": "string" },
        "temperature": { "type": "number" }, "avg_logprob": { "type": "number" },
        "compression_ratio": { "type": "number" }, "no_speech_prob": { "type": "number" },
        "words": { "type": "array", "items": { "type": "object", "properties": {
            "word": { "type": "string" }, "start": { "type": "number" }, "end": { "type": "number" } } } } } } },
    "vtt": { "type": "string" } },
  "required": ["text"] }
""")

NOVA_3_OUTPUT: dict[str, Any] = json.loads("""
{ "type": "object", "contentType": "application/json",
  "properties": {
    "results": { "type": "object", "properties": {
        "channels": { "type": "array", "items": { "type": "object", "properties": {
            "alternatives": { "type": "array", "items": { "type": "object", "properties": {
                "confidence": { "type": "number" },
                "transcript": { "type": "string" },
                "words": { "type": "array", "items": { "type": "object", "properties": {
                    "confidence": { "type": "number" }, "end": { "type": "number" },
                    "start": { "type": "number" }, "word": { "type": "string" } } } } } } } } } },
        "summary": { "type": "object", "properties": { "result": { "type": "string" }, "short": { "type": "string" } } },
        "sentiments": { "type": "object" } } } } }
""")

FLUX_OUTPUT: dict[str, Any] = json.loads("""
{ "type": "object", "description": "Output will be returned as websocket messages.",
  "properties": {
    "request_id": { "type": "string" },
    "sequence_id": { "type": "integer", "minimum": 0 },
    "event": { "type": "string", "enum": ["Update","StartOfTurn","EagerEndOfTurn","TurnResumed","EndOfTurn"] },
    "turn_index": { "type": "integer", "minimum": 0 },
    "audio_window_start": { "type": "number" },
    "audio_window_end": { "type": "number" },
    "transcript": { "type": "string" },
    "words": { "type": "array", "items": { "type": "object", "required": ["word","confidence"],
        "properties": { "word": { "type": "string" }, "confidence": { "type": "number" } } } },
    "end_of_turn_confidence": { "type": "number" } } }
""")

MELOTTS_OUTPUT: dict[str, Any] = json.loads("""
{ "oneOf": [
    { "type": "object", "contentType": "application/json", "properties": { "audio": { "type": "string", "description": "The generated audio in MP3 format, base64-encoded" } } },
    { "type": "string", "contentType": "audio/mpeg", "format": "binary", "description": "The generated audio in MP3 format" } ] }
""")

OUTPUT_SCHEMAS: dict[str, dict[str, Any]] = {
    "@cf/openai/whisper": WHISPER_OUTPUT,
    "@cf/openai/whisper-tiny-en": WHISPER_OUTPUT,
    "@cf/openai/whisper-large-v3-turbo": WHISPER_TURBO_OUTPUT,
    "@cf/deepgram/nova-3": NOVA_3_OUTPUT,
    "@cf/deepgram/flux": FLUX_OUTPUT,
    "@cf/myshell-ai/melotts": MELOTTS_OUTPUT,
}
"""Verbatim output schemas of the JSON-answering models (their model pages); aura answers raw
MP3 (https://developers.cloudflare.com/workers-ai/models/aura-1/)."""
