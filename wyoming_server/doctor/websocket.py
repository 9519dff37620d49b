"""``doctor``'s WebSocket probes: nova-3 and flux (listen), aura (speak), and their checks.

- nova-3 WebSocket (Deepgram listen v1): https://developers.deepgram.com/reference/speech-to-text/listen-streaming
- flux WebSocket (listen v2), ended by ``CloseStream`` without ``EndOfTurn``:
  https://developers.deepgram.com/docs/flux/close-stream
- aura WebSocket (speak v1, at most 20 ``Flush`` per minute):
  https://developers.deepgram.com/docs/tts-ws-flush
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from typing import Any, Final

import aiohttp
from yarl import URL

from ..workers_ai.catalog import FLUX, SpeechModel
from ..workers_ai.handshake import read_refused_body
from .common import (
    CALL_TIMEOUT,
    FRAME_MS,
    TTS_SAMPLE_RATE,
    ProbeContext,
    check_transcript,
    describe_audio,
    ms_since,
    neurons,
    refusal,
    sniff_container,
)
from .report import Check, Outcome

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
        check.connect_ms = ms_since(started)
        payload = await _refused_body(ctx, url)
        refusal(check, err.status, payload, "WebSocket handshake")
        return None
    except TimeoutError:
        check.fail(f"WebSocket handshake not done within {CALL_TIMEOUT:g} s")
        return None
    except aiohttp.ClientError as err:
        check.fail(f"cannot connect: {type(err).__name__}: {err}"[:200])
        return None
    check.connect_ms = ms_since(started)
    response = getattr(ws, "_response", None)  # aiohttp keeps the 101 response private
    if response is not None:
        check.neurons = neurons(response.headers)
    return ws


async def _refused_body(ctx: ProbeContext, url: URL) -> bytes:
    """The body of a refused handshake (aiohttp drops it; :func:`read_refused_body`)."""
    answer = await read_refused_body(ctx.session, url, ctx.headers, 5.0)
    return answer[1] if answer is not None else b""


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


HANDSHAKE_ONLY: Final = "WebSocket opens"


async def probe_handshake(ctx: ProbeContext, model_id: str, check: Check) -> None:
    """Open the WebSocket of an endpoint whose protocol is unknown, and close it at once.

    Sends nothing (no schema says what it would accept, so nothing is billed beyond the
    handshake) and records whether the handshake succeeds.
    """
    started = time.monotonic()
    ws = await _ws_open(ctx, check, model_id, ())
    if ws is None:
        return
    await ws.close()
    check.total_ms = ms_since(started)
    check.result = f"{HANDSHAKE_ONLY}; protocol unknown (no published schema)"


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
    check.total_ms = ms_since(started)
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
            check.first_result_ms = ms_since(started)
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
            check_transcript(check, " ".join(self.finals))


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
        check_transcript(check, self.last)


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
                    check.first_result_ms = ms_since(started)
                    check.note(f"first audio {ms_since(sent):.0f} ms after Flush")
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
    check.total_ms = ms_since(started)
    check.result = describe_audio("raw", len(audio_bytes))
    if not flushed and check.close_code is not None:
        check.deviate(f"closed before Flushed (close code {check.close_code})")
    if not audio_bytes:
        check.deviate("no audio frames")
    elif len(audio_bytes) % 2:
        check.deviate("odd number of bytes for 16-bit PCM")
