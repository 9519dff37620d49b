"""``doctor``'s REST probes: one POST per model, with what the project sends, and the checks of
each answer.

- REST envelope and result fields: https://developers.cloudflare.com/workers-ai/models/
- MeloTTS answering WAV, aura REST possibly ignoring ``encoding``: observed live (see
  docs/doctor.md).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from ..workers_ai import audio
from ..workers_ai.catalog import InputConvention, SpeechModel
from .common import (
    CALL_TIMEOUT,
    TTS_SAMPLE_RATE,
    ProbeContext,
    check_transcript,
    describe_audio,
    ms_since,
    neurons,
    refusal,
    sniff_container,
)
from .report import Check


def _asr_request(
    model: SpeechModel, ctx: ProbeContext
) -> tuple[bytes, str, Sequence[tuple[str, str]]]:
    """Body, Content-Type and query of the REST request the project sends (client.py)."""
    flac = audio.encode_flac(ctx.speech_pcm, ctx.sample_rate)
    if model.input is InputConvention.BASE64_JSON:
        body = {"audio": base64.b64encode(flac).decode("ascii"), "language": "en"}
        return json.dumps(body).encode(), "application/json", ()
    if model.input is InputConvention.RAW_AUDIO_QUERY_OPTIONS:
        params = (("punctuate", "true"), ("smart_format", "true"), ("language", "en"))
        return flac, "audio/flac", params
    return flac, "audio/flac", ()


def _tts_request(model: SpeechModel, ctx: ProbeContext) -> dict[str, Any]:
    language = model.languages[0]
    if model.input is InputConvention.PROMPT_JSON_BASE64_MP3:
        return {"prompt": ctx.text_for(language), "lang": language}
    return {
        "text": ctx.text_for(language),
        "speaker": model.default_speaker,
        "encoding": "linear16",
        "container": "none",
        "sample_rate": TTS_SAMPLE_RATE,
    }


async def probe_rest(ctx: ProbeContext, model: SpeechModel, check: Check) -> None:
    """POST once to the model's run URL and check the answer (see module docstring)."""
    if model.task.name == "ASR":
        body, content_type, params = await asyncio.to_thread(_asr_request, model, ctx)
    else:
        body = json.dumps(_tts_request(model, ctx)).encode()
        content_type, params = "application/json", ()
    url = ctx.run_url(model.model_id)
    if params:
        url = url.with_query(list(params))
    ctx.timing.reset()
    started = time.monotonic()
    try:
        async with (
            asyncio.timeout(CALL_TIMEOUT),
            ctx.session.post(
                url, data=body, headers={**ctx.headers, "Content-Type": content_type}
            ) as response,
        ):
            check.first_result_ms = ms_since(started)
            payload = await response.read()
            check.total_ms = ms_since(started)
            check.connect_ms = ctx.timing.connect_ms
            check.status = response.status
            check.content_type = response.headers.get("Content-Type", "")
            check.neurons = neurons(response.headers)
    except TimeoutError:
        check.fail(f"no answer within {CALL_TIMEOUT:g} s")
        return
    except aiohttp.ClientError as err:
        check.fail(f"cannot connect: {type(err).__name__}: {err}"[:200])
        return
    if check.status is not None and check.status >= 400:
        refusal(check, check.status, payload, "request")
        return
    if check.neurons is None:
        check.deviate("no cf-ai-neurons response header")
    if model.task.name == "ASR":
        _check_asr_rest(check, model, payload)
    elif model.input is InputConvention.PROMPT_JSON_BASE64_MP3:
        _check_melotts(check, payload)
    else:
        _check_aura_rest(check, payload)


def _envelope_result(check: Check, payload: bytes) -> Mapping[str, Any] | None:
    if not (check.content_type or "").startswith("application/json"):
        check.deviate(f"Content-Type {check.content_type!r}, expected application/json")
    try:
        envelope = json.loads(payload)
    except ValueError:
        check.deviate("body is not JSON")
        return None
    if not isinstance(envelope, dict) or envelope.get("success") is not True:
        check.deviate("not a successful v4 envelope (success: true)")
        return None
    result = envelope.get("result")
    if not isinstance(result, dict):
        check.deviate("envelope has no result object")
        return None
    return result


def _check_asr_rest(check: Check, model: SpeechModel, payload: bytes) -> None:
    result = _envelope_result(check, payload)
    if result is None:
        return
    if model.input is InputConvention.RAW_AUDIO_QUERY_OPTIONS:
        try:
            text = result["results"]["channels"][0]["alternatives"][0]["transcript"]
        except (KeyError, IndexError, TypeError):
            check.deviate("no results.channels[0].alternatives[0].transcript")
            return
        if not isinstance(result.get("metadata"), dict):
            check.note("no metadata object (duration unknown)")
    else:
        text = result.get("text")
        if model.input is InputConvention.BASE64_JSON:
            if not isinstance(result.get("transcription_info"), dict):
                check.note("no transcription_info (language, duration)")
        elif not isinstance(result.get("words"), list):
            check.note("no words list")
    if not isinstance(text, str):
        check.deviate("result has no text string")
        return
    check_transcript(check, text.strip())


def _check_aura_rest(check: Check, payload: bytes) -> None:
    """aura REST asked for ``linear16``/``container=none``: raw PCM, or a labelled container."""
    ctype = (check.content_type or "").split(";")[0].strip().lower()
    container = sniff_container(payload)
    check.result = describe_audio(container, len(payload))
    if container == "json":
        check.deviate("JSON body instead of audio bytes")
        return
    if not payload:
        check.deviate("empty audio body")
        return
    if not ctype.startswith("audio/"):
        check.note(f"Content-Type {check.content_type!r} (not documented for linear16)")
    labelled = {"audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav", "audio/x-wav": "wav"}
    label = labelled.get(ctype)
    if label and container != label:
        check.deviate(f"Content-Type {ctype} but the bytes are {container}")
    if container == "mp3":
        check.knew("encoding=linear16 ignored: MP3 returned (the project detects it)")
    elif container == "wav":
        check.knew("container=none ignored: WAV returned (the project parses the header)")
    elif container == "raw":
        if label:
            check.deviate(f"Content-Type {ctype} but the bytes have no {label} header")
        if len(payload) % 2:
            check.deviate("odd number of bytes for 16-bit PCM")
        if len(payload) < 2 * TTS_SAMPLE_RATE // 4:
            check.deviate("less than 0.25 s of audio for a sentence")
    else:
        check.deviate(f"{container} audio, which the project does not expect")


def _check_melotts(check: Check, payload: bytes) -> None:
    """melotts: envelope with base64 ``result.audio``; WAV (observed) or MP3 (schema)."""
    result = _envelope_result(check, payload)
    if result is None:
        return
    encoded = result.get("audio")
    if not isinstance(encoded, str):
        check.deviate("result has no base64 audio string")
        return
    try:
        data = base64.b64decode(encoded, validate=True)
    except ValueError:
        check.deviate("result.audio is not base64")
        return
    container = sniff_container(data)
    check.result = describe_audio(container, len(data))
    if container == "wav":
        check.knew("WAV, although the schema says MP3 (the project detects it)")
    elif container != "mp3":
        check.deviate(f"result.audio is {container}, neither WAV nor MP3")
