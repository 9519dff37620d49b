"""flux over WebSocket: Deepgram's listen v2 protocol (https://developers.deepgram.com/docs/flux/,
https://developers.cloudflare.com/workers-ai/models/flux/).

Query: ``encoding=linear16`` (only), ``sample_rate``, ``eot_threshold`` (0.5-0.9, default 0.7),
``eager_eot_threshold`` (0.3-0.9), ``eot_timeout_ms`` (default 5000), ``keyterm`` (repeatable),
``mip_opt_out``, ``tag`` (all strings). Workers AI hosts only the English Flux model
(https://github.com/cloudflare/agents/issues/1441): ``model`` may only be ``flux-general-en``, and
``language_hint`` (multilingual Flux) is refused with 400/5006 (the exact answer of Workers AI
is not known).

Server → client: ``Connected`` first, then ``TurnInfo`` messages on the audio clock, one per
0.24 s of audio (coalesced to the newest when the client sends faster than real time; none once
``CloseStream`` is pending):
``Update`` (cumulative transcript of the current turn), ``StartOfTurn`` when speech starts,
``EagerEndOfTurn`` / ``TurnResumed`` (only with ``eager_eot_threshold``), ``EndOfTurn``.
End-of-turn confidence is the emulator's stand-in for Flux's model: the silence after the last
speech in seconds (capped at 1.0), so the turn ends after ``eot_threshold`` seconds of silence
(0.7 s by default) or at ``eot_timeout_ms`` of silence, whichever is first. ``CloseStream``
decodes the audio received so far, sends an ``Update`` with the turn's transcript, and closes
**without ``EndOfTurn`` and without a close status code** (the close frame has no payload), as
Flux does (https://developers.deepgram.com/docs/flux/close-stream: "treat the most recent Update as
the final transcript").

Like the real model, a turn is recognised incrementally: each stretch of speech that ends in a
short pause (:data:`SEGMENT_PAUSE`, below any end-of-turn threshold) is transcribed once, and
the cumulative transcript is those pieces plus the speech since the last pause. So the work
left at the end of a turn does not grow with the length of the turn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import asr, schemas
from .audio import WHISPER_RATE
from .context import EmulatorContext, ServerSocket
from .errors import bad_input
from .models import ModelInfo
from .query import query_instance
from .results import flux_words
from .streaming import ListenSession, json_message, serve_listen
from .transcript import Options, Transcript, join_transcripts
from .vad import FRAME_SAMPLES, ONSET_FRAMES, samples_for_ms, seconds

_LOGGER = logging.getLogger(__name__)

TICK = 12 * FRAME_SAMPLES
"""TurnInfo cadence: one message per 0.24 s of audio (samples; Deepgram: about 0.25 s)."""
TURN_PRE_ROLL = samples_for_ms(200)
"""Audio kept before the detected speech onset of a turn (samples)."""
TURN_TAIL = samples_for_ms(250)
"""Audio transcribed after the last speech of a turn (samples)."""
SEGMENT_PAUSE = samples_for_ms(250)
"""A pause this long inside a turn closes a piece of the turn's transcript (samples)."""
SAMPLE_RATES = (8000, 16000, 24000, 44100, 48000)
"""Sample rates Flux accepts (Hz, Deepgram)."""
ONSET_LOOKBACK = (ONSET_FRAMES - 1) * FRAME_SAMPLES
MODELS = ("flux-general-en",)
_EXTRA_PARAMS = ("model", "language_hint")


@dataclass(frozen=True)
class FluxParams:
    """Validated flux query parameters (rates in Hz, times in ms)."""

    sample_rate: int
    eot_threshold: float
    eager_eot_threshold: float | None
    eot_timeout_ms: int
    options: Options


def _threshold(value: Any, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise bad_input(f"Error: {name} must be a number between {low} and {high}") from err
    if not low <= number <= high:
        raise bad_input(f"Error: {name} must be between {low} and {high}")
    return number


def parse_params(request: web.Request) -> FluxParams:
    """Validate the handshake's query against flux's input schema.

    Raises :class:`~.errors.CloudflareError` 400/5006 before the upgrade.
    """
    query = request.query
    instance = query_instance(
        query, schemas.FLUX_INPUT, repeatable=("keyterm", "language_hint"), skip=_EXTRA_PARAMS
    )
    schemas.validate(schemas.FLUX_INPUT, instance)
    model = query.get("model", MODELS[0])
    if model not in MODELS:
        raise bad_input(f"Error: model must be one of {', '.join(MODELS)}")
    rate = int(instance["sample_rate"])
    if rate not in SAMPLE_RATES:
        raise bad_input(f"Error: sample_rate must be one of {', '.join(map(str, SAMPLE_RATES))}")
    eot = _threshold(instance.get("eot_threshold", "0.7"), "eot_threshold", 0.5, 0.9)
    eager = None
    if "eager_eot_threshold" in instance:
        eager = _threshold(instance["eager_eot_threshold"], "eager_eot_threshold", 0.3, 0.9)
        if eager > eot:
            raise bad_input("Error: eager_eot_threshold must not exceed eot_threshold")
    timeout = int(instance.get("eot_timeout_ms", "5000"))
    if not 500 <= timeout <= 10000:
        raise bad_input("Error: eot_timeout_ms must be between 500 and 10000")
    if "language_hint" in query:
        raise bad_input("Error: language_hint is not available: Workers AI hosts English Flux only")
    keyterms = tuple(query.getall("keyterm", ()))
    return FluxParams(
        sample_rate=rate,
        eot_threshold=eot,
        eager_eot_threshold=eager,
        eot_timeout_ms=timeout,
        options=Options(language="en", hotwords=keyterms),
    )


async def serve(
    request: web.Request, context: EmulatorContext, model: ModelInfo
) -> web.StreamResponse:
    """Validate the handshake (4xx envelope before upgrading), then run the session."""
    params = parse_params(request)
    return await serve_listen(request, context, lambda sock: FluxSession(sock, context, params))


class FluxSession(ListenSession):
    """One flux streaming session: a turn state machine on the audio clock."""

    def __init__(self, sock: ServerSocket, context: EmulatorContext, params: FluxParams):
        super().__init__(sock, context, sample_rate=params.sample_rate)
        self.params = params
        self.sequence_id = 0
        self.turn_index = 0
        self.tick_end = 0  # audio processed so far (samples)
        self.in_turn = False
        self.turn_start = 0
        self.speech_end = 0  # end of the turn's last speech frame (samples)
        self.eager_sent = False
        self._transcript: Transcript | None = None
        self._pieces: list[Transcript] = []  # the turn's speech before segment_start
        self.segment_start = 0  # where the turn's untranscribed speech starts (samples)
        self._current: Transcript | None = None
        self._transcribed: tuple[int, int] | None = None

    async def _send(self, kind: str, **fields: Any) -> None:
        await self.sock.send_json(
            json_message(
                kind, request_id=self.sock.request_id, sequence_id=self.sequence_id, **fields
            )
        )
        self.sequence_id += 1

    async def on_open(self) -> None:
        await self._send("Connected")

    async def on_audio(self, limit: int, *, final: bool) -> None:
        while self.tick_end + TICK <= limit:
            newest = self.tick_end + 2 * TICK > limit
            await self._tick(self.tick_end + TICK, newest=newest)
        if final and limit > self.tick_end:
            await self._tick(limit, newest=True)

    async def on_close(self, position: int) -> None:
        if self.in_turn:
            end = max(position, self.tick_end)
            transcript = await self._turn_transcript()
            await self._turn_info("Update", self.turn_start, end, transcript, 0.0)
        await self.sock.close_without_code()

    async def _tick(self, end: int, *, newest: bool) -> None:
        start, self.tick_end = self.tick_end, end
        buffer = self.buffer
        if not self.in_turn:
            # Look back a little so speech starting at the end of the last tick is found.
            onset = buffer.speech_onset(max(buffer.start, start - ONSET_LOOKBACK), end)
            if onset is None:
                buffer.drop_before(end - TURN_PRE_ROLL)
                if newest and not self.command_pending:
                    await self._turn_info("Update", start, end, None, 0.0)
                return
            self.in_turn = True
            self.turn_start = max(buffer.start, onset - TURN_PRE_ROLL)
            self.speech_end = buffer.last_speech_end(start, end) or end
            self._transcript = None
            self._pieces = []
            self.segment_start = self.turn_start
            self._current = None
            self._transcribed = None
            await self._turn_info("StartOfTurn", self.turn_start, end, None, 0.0)
            return
        last_speech = buffer.last_speech_end(start, end)
        resumed = last_speech is not None and buffer.has_speech(self.speech_end, end)
        if last_speech is not None:
            self.speech_end = max(self.speech_end, last_speech)
        await self._close_pieces(end)
        silence_ms = max(0, end - self.speech_end) * 1000 / WHISPER_RATE
        confidence = min(1.0, round(silence_ms / 1000, 3))
        params = self.params
        if self.eager_sent and resumed:
            self.eager_sent = False
            await self._turn_info("TurnResumed", self.turn_start, end, self._transcript, 0.0)
            return
        if confidence >= params.eot_threshold or silence_ms >= params.eot_timeout_ms:
            await self._end_turn(end, confidence=confidence)
            return
        eager = params.eager_eot_threshold
        if eager is not None and not self.eager_sent and confidence >= eager:
            transcript = await self._turn_transcript()
            if transcript.text:
                self.eager_sent = True
                await self._turn_info(
                    "EagerEndOfTurn", self.turn_start, end, transcript, confidence
                )
                return
        if newest and not self.command_pending:
            transcript = await self._turn_transcript()
            await self._turn_info("Update", self.turn_start, end, transcript, confidence)

    async def _end_turn(self, end: int, *, confidence: float) -> None:
        transcript = await self._turn_transcript()
        await self._turn_info(
            "EndOfTurn",
            self.turn_start,
            end,
            transcript,
            max(confidence, self.params.eot_threshold),
        )
        self.turn_index += 1
        self.in_turn = False
        self.eager_sent = False
        self.buffer.drop_before(end - TURN_PRE_ROLL)

    async def _close_pieces(self, end: int) -> None:
        """Transcribe, once, every stretch of the turn's speech that ended in a pause."""
        while (cut := self.buffer.endpoint(self.segment_start, end, SEGMENT_PAUSE)) is not None:
            if cut >= end:  # the pause may still become the end of the turn
                break
            if self.buffer.has_speech(self.segment_start, cut):
                self._pieces.append(
                    await asr.transcribe(
                        self.buffer.audio(self.segment_start, cut),
                        self.params.options,
                        self.model_latency_ms,
                    )
                )
            self.segment_start = cut
            self._current = None
            self._transcribed = None

    async def _turn_transcript(self) -> Transcript:
        """The turn's cumulative transcript: its closed pieces, then the speech since the last
        pause up to the last speech (+ a short tail), the latter cached by range."""
        window = (self.segment_start, min(self.speech_end + TURN_TAIL, self.buffer.end))
        if window[1] > window[0] and self.buffer.has_speech(*window):
            if self._current is None or self._transcribed != window:
                self._current = await asr.transcribe(
                    self.buffer.audio(*window), self.params.options, self.model_latency_ms
                )
                self._transcribed = window
            parts = [*self._pieces, self._current]
        else:
            parts = list(self._pieces)
        self._transcript = join_transcripts(parts)
        return self._transcript

    async def _turn_info(
        self, event: str, start: int, end: int, transcript: Transcript | None, confidence: float
    ) -> None:
        await self._send(
            "TurnInfo",
            event=event,
            turn_index=self.turn_index,
            audio_window_start=seconds(start),
            audio_window_end=seconds(end),
            transcript=transcript.text if transcript else "",
            words=flux_words(transcript.words) if transcript else [],
            end_of_turn_confidence=round(confidence, 3),
        )
