"""The calls ``doctor`` makes, one per model and transport, and what each checks.

Each probe talks to Workers AI with plain aiohttp (not :class:`WorkersAIClient`), so that it sees
what the client hides: status, ``Content-Type``, ``cf-ai-neurons``, every WebSocket message and
the close code. It sends what the project sends (same body convention, query parameters and
audio format) and compares the answer with what the project expects:

- REST envelope and result fields: https://developers.cloudflare.com/workers-ai/models/
- nova-3 WebSocket (Deepgram listen v1): https://developers.deepgram.com/reference/speech-to-text/listen-streaming
- flux WebSocket (listen v2), ended by ``CloseStream`` without ``EndOfTurn``:
  https://developers.deepgram.com/docs/flux/close-stream
- aura WebSocket (speak v1, at most 20 ``Flush`` per minute):
  https://developers.deepgram.com/docs/tts-ws-flush
- ``cf-ai-neurons`` on every reply; MeloTTS answering WAV, aura REST possibly ignoring
  ``encoding``: observed live (see docs/doctor.md).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from yarl import URL

from . import audio
from .catalog import FLUX, InputConvention, SpeechModel
from .doctor_report import Check, Outcome

CALL_TIMEOUT: Final = 20.0
"""Seconds one probe may take in all."""

FRAME_MS: Final = 100
"""WebSocket audio frames, in ms (as the project streams)."""

TTS_SAMPLE_RATE: Final = 24000
"""Hz asked of aura (REST linear16 and WebSocket), as the Wyoming server does."""

EXPECTED_WORDS: Final = ("living", "room", "light", "turn")
"""Words of the bundled recording; a transcript with none of them is noted."""

_NOVA3_RESULTS_FIELDS: Final = ("channel_index", "duration", "start", "channel", "metadata")
_FLUX_TURNINFO_FIELDS: Final = (
    "request_id",
    "sequence_id",
    "event",
    "turn_index",
    "audio_window_start",
    "audio_window_end",
    "transcript",
    "words",
    "end_of_turn_confidence",
)
_FLUX_EVENTS: Final = ("Update", "StartOfTurn", "EagerEndOfTurn", "TurnResumed", "EndOfTurn")


class AccountUnusable(Exception):
    """The account cannot be used at all (authentication or daily quota): stop probing."""


@dataclass
class Timing:
    """Connection set-up times seen by the session's trace hooks (ms)."""

    connect_started: float | None = None
    connect_ms: float | None = None

    def reset(self) -> None:
        """Forget the previous call."""
        self.connect_started = None
        self.connect_ms = None


def trace_config(timing: Timing) -> aiohttp.TraceConfig:
    """An aiohttp trace that records the TCP/TLS connection time of each call in ``timing``."""
    config = aiohttp.TraceConfig()

    async def started(*_: Any) -> None:
        timing.connect_started = time.monotonic()

    async def ended(*_: Any) -> None:
        if timing.connect_started is not None:
            timing.connect_ms = (time.monotonic() - timing.connect_started) * 1000

    config.on_connection_create_start.append(started)
    config.on_connection_create_end.append(ended)
    return config


@dataclass
class ProbeContext:
    """Where and how to call: the session (with :func:`trace_config`), URLs, credentials."""

    session: aiohttp.ClientSession
    timing: Timing
    run_url: Callable[[str], URL]
    websocket_url: Callable[[str, Sequence[tuple[str, str]]], URL]
    headers: Mapping[str, str]
    speech_pcm: bytes
    sample_rate: int = 16000
    texts: Mapping[str, str] = field(default_factory=dict)

    def text_for(self, language: str) -> str:
        """The few words spoken in ``language`` (English when none is given)."""
        return self.texts.get(language) or self.texts["en"]


def _ms_since(start: float) -> float:
    return (time.monotonic() - start) * 1000


def _neurons(headers: Mapping[str, str]) -> float | None:
    value = headers.get("cf-ai-neurons")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


_L3_KBPS: Final = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2
    0: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2.5
}
_MPEG_RATES: Final = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame_length(data: bytes, offset: int = 0) -> int | None:
    """Length in bytes of the MPEG layer III frame whose header starts at ``offset``."""
    header = data[offset : offset + 4]
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    bitrate_index, rate_index = header[2] >> 4, (header[2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    kbps = _L3_KBPS[version][bitrate_index]
    rate = _MPEG_RATES[version][rate_index]
    per_frame = 144 if version == 3 else 72
    return per_frame * kbps * 1000 // rate + ((header[2] >> 1) & 1)


def _is_mp3(data: bytes) -> bool:
    """ID3 tag, or an MPEG layer III frame followed by another (raw PCM of -1 samples,
    ``FF FF``, looks like a frame sync on its own)."""
    if data[:3] == b"ID3":
        return True
    length = _mp3_frame_length(data)
    if length is None:
        return False
    return len(data) < length + 4 or _mp3_frame_length(data, length) is not None


def sniff_container(data: bytes) -> str:
    """Name the audio container from the first bytes: wav, mp3, flac, ogg, json or raw."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if _is_mp3(data):
        return "mp3"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:1] == b"{":
        return "json"
    return "raw"


def _error_of(payload: bytes) -> tuple[int | None, str]:
    """``(code, message)`` of a v4 error envelope, or ``(None, start of the body)``."""
    with contextlib.suppress(ValueError, TypeError, KeyError, IndexError, AttributeError):
        error = json.loads(payload)["errors"][0]
        code = error.get("code")
        return (code if isinstance(code, int) else None), str(error.get("message", ""))
    return None, payload[:120].decode("utf-8", "replace").strip()


def _refusal(check: Check, status: int, payload: bytes, what: str) -> None:
    """Record a refused call; raise :class:`AccountUnusable` when no other call can succeed."""
    code, message = _error_of(payload)
    check.status = status
    check.error_code = code
    detail = f"HTTP {status}" + (f", code {code}" if code is not None else "")
    check.fail(f"{what} refused ({detail}): {message}"[:200])
    quota = code in (4006, 3036) or "daily free allocation" in message.lower()
    if quota:
        check.note("the daily free allocation of neurons is used up until 00:00 UTC")
    if status in (401, 403) or code == 10000 or quota:
        raise AccountUnusable(check.result)


def _check_transcript(check: Check, text: str) -> None:
    check.result = f"“{text}”" if text else "(empty transcript)"
    if not text:
        check.deviate("empty transcript for 1.5 s of clear speech")
    elif not any(word in text.lower() for word in EXPECTED_WORDS):
        check.note(f"transcript differs from the recording ({EXPECTED_WORDS[:3]})")


# ---------------------------------------------------------------------------- REST


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
            check.first_result_ms = _ms_since(started)
            payload = await response.read()
            check.total_ms = _ms_since(started)
            check.connect_ms = ctx.timing.connect_ms
            check.status = response.status
            check.content_type = response.headers.get("Content-Type", "")
            check.neurons = _neurons(response.headers)
    except TimeoutError:
        check.fail(f"no answer within {CALL_TIMEOUT:g} s")
        return
    except aiohttp.ClientError as err:
        check.fail(f"cannot connect: {type(err).__name__}: {err}"[:200])
        return
    if check.status is not None and check.status >= 400:
        _refusal(check, check.status, payload, "request")
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
    _check_transcript(check, text.strip())


def _describe_audio(container: str, size: int) -> str:
    if container == "raw":
        seconds = size / (2 * TTS_SAMPLE_RATE)
        return f"{seconds:.2f} s linear16 at {TTS_SAMPLE_RATE} Hz ({size} bytes)"
    return f"{container.upper()}, {size} bytes"


def _check_aura_rest(check: Check, payload: bytes) -> None:
    """aura REST asked for ``linear16``/``container=none``: raw PCM, or a labelled container."""
    ctype = (check.content_type or "").split(";")[0].strip().lower()
    container = sniff_container(payload)
    check.result = _describe_audio(container, len(payload))
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
    check.result = _describe_audio(container, len(data))
    if container == "wav":
        check.knew("WAV, although the schema says MP3 (the project detects it)")
    elif container != "mp3":
        check.deviate(f"result.audio is {container}, neither WAV nor MP3")


# ---------------------------------------------------------------------------- WebSocket


async def _ws_open(
    ctx: ProbeContext, check: Check, model_id: str, params: Sequence[tuple[str, str]]
) -> aiohttp.ClientWebSocketResponse | None:
    """Open the WebSocket; a refused handshake is recorded with its v4 body."""
    url: URL = ctx.websocket_url(model_id, params)
    ctx.timing.reset()
    started = time.monotonic()
    try:
        async with asyncio.timeout(CALL_TIMEOUT):
            ws = await ctx.session.ws_connect(
                url,
                headers=dict(ctx.headers),
                autoping=True,
                max_msg_size=16 * 1024 * 1024,
            )
    except aiohttp.WSServerHandshakeError as err:
        check.connect_ms = _ms_since(started)
        payload = await _refused_body(ctx, url)
        _refusal(check, err.status, payload, "WebSocket handshake")
        return None
    except TimeoutError:
        check.fail(f"WebSocket handshake not done within {CALL_TIMEOUT:g} s")
        return None
    except aiohttp.ClientError as err:
        check.fail(f"cannot connect: {type(err).__name__}: {err}"[:200])
        return None
    check.connect_ms = _ms_since(started)
    response = getattr(ws, "_response", None)  # aiohttp keeps the 101 response private
    if response is not None:
        check.neurons = _neurons(response.headers)
    return ws


async def _refused_body(ctx: ProbeContext, url: URL) -> bytes:
    """The body of a refused handshake (aiohttp drops it): ask once more, without upgrading."""
    headers = {
        **ctx.headers,
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
    }
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        async with (
            asyncio.timeout(5.0),
            ctx.session.get(url, headers=headers) as response,
        ):
            if response.status != 101:
                return await response.read()
    return b""


async def _receive_json(
    check: Check, ws: aiohttp.ClientWebSocketResponse, timeout: float
) -> dict[str, Any] | bytes | None:
    """The next message: a JSON object, binary data, or ``None`` when the socket closed."""
    msg = await ws.receive(timeout)
    if msg.type is aiohttp.WSMsgType.BINARY:
        return bytes(msg.data)
    if msg.type is aiohttp.WSMsgType.TEXT:
        try:
            message = json.loads(msg.data)
        except ValueError:
            check.deviate("a text message is not JSON")
            return {}
        if not isinstance(message, dict):
            check.deviate("a text message is not a JSON object")
            return {}
        return message
    return None


def _closed(check: Check, ws: aiohttp.ClientWebSocketResponse) -> None:
    check.close_code = ws.close_code
    exc = ws.exception()
    if exc is not None:
        check.note(f"connection ended with {type(exc).__name__}: {exc}"[:160])


def _listen_params(model_id: str, sample_rate: int) -> list[tuple[str, str]]:
    """The query the project sends (client.listen)."""
    params = [("encoding", "linear16"), ("sample_rate", str(sample_rate))]
    if model_id != FLUX:
        params += [
            ("channels", "1"),
            ("interim_results", "true"),
            ("punctuate", "true"),
            ("smart_format", "true"),
            ("language", "en"),
        ]
    return params


async def probe_listen(ctx: ProbeContext, model_id: str, check: Check, *, flux: bool) -> None:
    """Stream the recording at real time, end it as the project does, read to the close."""
    started = time.monotonic()
    ws = await _ws_open(ctx, check, model_id, _listen_params(model_id, ctx.sample_rate))
    if ws is None:
        return
    listener = _Flux(check) if flux else _Nova3(check)
    reader = asyncio.create_task(_read_listen(ws, check, listener, started))
    try:
        frame = ctx.sample_rate * 2 * FRAME_MS // 1000
        listener.audio_started = time.monotonic()
        for offset in range(0, len(ctx.speech_pcm), frame):
            if ws.closed:
                break
            await ws.send_bytes(ctx.speech_pcm[offset : offset + frame])
            await asyncio.sleep(FRAME_MS / 1000)
        if not ws.closed:
            if not flux:
                await ws.send_str(json.dumps({"type": "Finalize"}))
            await ws.send_str(json.dumps({"type": "CloseStream"}))
            listener.finishing = True
        try:
            await asyncio.wait_for(asyncio.shield(reader), 10.0)
        except TimeoutError:
            check.deviate("no close within 10 s after CloseStream")
    except (ConnectionError, aiohttp.ClientError) as err:
        check.deviate(f"sending failed: {err}"[:160])
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        await ws.close()
    check.total_ms = _ms_since(started)
    listener.conclude()


async def _read_listen(
    ws: aiohttp.ClientWebSocketResponse, check: Check, listener: _Listener, started: float
) -> None:
    while True:
        message = await _receive_json(check, ws, CALL_TIMEOUT)
        if message is None:
            break
        if isinstance(message, bytes):
            check.deviate("binary message from a speech-to-text model")
            continue
        kind = str(message.get("type") or ("TurnInfo" if "event" in message else "?"))
        check.saw(kind if kind != "TurnInfo" else f"TurnInfo:{message.get('event')}")
        if listener.handle(kind, message) and check.first_result_ms is None:
            check.first_result_ms = _ms_since(started)
    _closed(check, ws)


class _Listener:
    """Per-protocol checks of a listen stream (see :class:`_Nova3`, :class:`_Flux`)."""

    def __init__(self, check: Check) -> None:
        self.check = check
        self.audio_started = 0.0
        self.finishing = False

    def handle(self, kind: str, message: dict[str, Any]) -> bool:
        """Check one message; True when it carried a transcript."""
        raise NotImplementedError

    def conclude(self) -> None:
        """Check the stream as a whole, after it closed."""
        raise NotImplementedError


class _Nova3(_Listener):
    """listen v1: ``Results`` (``is_final`` segments), then ``Metadata``, then close."""

    def __init__(self, check: Check) -> None:
        super().__init__(check)
        self.finals: list[str] = []
        self.metadata = False

    def handle(self, kind: str, message: dict[str, Any]) -> bool:
        if kind == "Results":
            missing = [f for f in _NOVA3_RESULTS_FIELDS if f not in message]
            if missing:
                self.check.deviate(f"Results without {', '.join(missing)}")
            try:
                text = str(message["channel"]["alternatives"][0]["transcript"] or "")
            except (KeyError, IndexError, TypeError):
                self.check.deviate("Results without channel.alternatives[0].transcript")
                return False
            if message.get("is_final") and text.strip():
                self.finals.append(text.strip())
            return bool(text.strip())
        if kind == "Metadata":
            self.metadata = True
        elif kind == "Error":
            self.check.deviate(f"Error message: {message}"[:160])
        elif kind not in ("SpeechStarted", "UtteranceEnd"):
            self.check.note(f"unexpected message type {kind!r}")
        return False

    def conclude(self) -> None:
        check = self.check
        if not self.metadata:
            check.deviate(f"closed without Metadata (close code {check.close_code})")
        elif check.close_code not in (1000, None):
            check.knew(f"close code {check.close_code} after Metadata (final result complete)")
        if check.outcome is Outcome.OK or self.finals:
            _check_transcript(check, " ".join(self.finals))


class _Flux(_Listener):
    """listen v2: ``Connected``, ``TurnInfo`` events; after ``CloseStream`` a close, with or
    without ``EndOfTurn`` and close code."""

    def __init__(self, check: Check) -> None:
        super().__init__(check)
        self.first = True
        self.last = ""
        self.end_of_turn = False

    def handle(self, kind: str, message: dict[str, Any]) -> bool:
        first, self.first = self.first, False
        if first and kind != "Connected":
            self.check.note(f"first message is {kind}, not Connected")
        if kind == "TurnInfo":
            missing = [f for f in _FLUX_TURNINFO_FIELDS if f not in message]
            if "event" in missing or "transcript" in missing:
                self.check.deviate("TurnInfo without event or transcript")
            elif missing:
                self.check.note(f"TurnInfo without {', '.join(missing)}")
            event = message.get("event")
            if event not in _FLUX_EVENTS:
                self.check.deviate(f"unknown TurnInfo event {event!r}")
            text = str(message.get("transcript") or "").strip()
            if text:
                self.last = text
            if event == "EndOfTurn":
                self.end_of_turn = True
            return bool(text)
        if kind == "Error":
            self.check.deviate(f"Error message: {message}"[:160])
        elif kind not in ("Connected", "Warning", "ConfigureSuccess"):
            self.check.note(f"unexpected message type {kind!r}")
        return False

    def conclude(self) -> None:
        check = self.check
        if not self.end_of_turn:
            check.knew(
                "no EndOfTurn after CloseStream: the last Update is the transcript "
                f"(close code {check.close_code})"
            )
        elif check.close_code not in (1000, None):
            check.note(f"close code {check.close_code}")
        _check_transcript(check, self.last)


def _speak_params(model: SpeechModel | None) -> list[tuple[str, str]]:
    params = [("encoding", "linear16"), ("sample_rate", str(TTS_SAMPLE_RATE))]
    if model is not None and model.default_speaker:
        params.insert(0, ("speaker", model.default_speaker))
    return params


async def probe_speak(
    ctx: ProbeContext, model_id: str, model: SpeechModel | None, check: Check
) -> None:
    """Send one ``Speak`` + ``Flush``, read audio up to ``Flushed``, then ``Close``."""
    started = time.monotonic()
    ws = await _ws_open(ctx, check, model_id, _speak_params(model))
    if ws is None:
        return
    text = ctx.text_for(model.languages[0] if model else "en")
    audio_bytes = bytearray()
    flushed = False
    try:
        await ws.send_str(json.dumps({"type": "Speak", "text": text}))
        await ws.send_str(json.dumps({"type": "Flush"}))
        sent = time.monotonic()
        while not flushed:
            message = await _receive_json(check, ws, 10.0)
            if message is None:
                break
            if isinstance(message, bytes):
                check.saw("audio")
                if not audio_bytes:
                    check.first_result_ms = _ms_since(started)
                    check.note(f"first audio {_ms_since(sent):.0f} ms after Flush")
                    if (container := sniff_container(message)) not in ("raw", "json"):
                        check.deviate(f"audio frames start with a {container} header, not raw")
                audio_bytes += message
                continue
            kind = str(message.get("type"))
            check.saw(kind)
            if kind == "Flushed":
                flushed = True
            elif kind in ("Warning", "Error"):
                check.deviate(f"{kind}: {message.get('description') or message}"[:160])
            elif kind not in ("Metadata", "Cleared"):
                check.note(f"unexpected message type {kind!r}")
        if flushed:
            await ws.send_str(json.dumps({"type": "Close"}))
            with contextlib.suppress(TimeoutError):
                while await _receive_json(check, ws, 3.0) is not None:
                    pass
    except TimeoutError:
        check.deviate("no Flushed within 10 s of Flush")
    except (ConnectionError, aiohttp.ClientError) as err:
        check.deviate(f"sending failed: {err}"[:160])
    finally:
        _closed(check, ws)
        await ws.close()
    check.total_ms = _ms_since(started)
    check.result = _describe_audio("raw", len(audio_bytes))
    if not flushed and check.close_code is not None:
        check.deviate(f"closed before Flushed (close code {check.close_code})")
    if not audio_bytes:
        check.deviate("no audio frames")
    elif len(audio_bytes) % 2:
        check.deviate("odd number of bytes for 16-bit PCM")
