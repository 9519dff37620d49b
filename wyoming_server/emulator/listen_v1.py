"""nova-3 over WebSocket: Deepgram's listen v1 protocol
(https://developers.deepgram.com/reference/speech-to-text/listen-streaming).

Client → server: binary audio (``encoding`` linear16/mulaw/alaw at ``sample_rate`` Hz,
``channels`` interleaved), ``KeepAlive``, ``Finalize``, ``CloseStream``.
Server → client: ``Results`` — interim (``is_final:false``, with ``interim_results=true``; the
growing segment re-transcribed at most every 0.5 s of new audio), final (``is_final:true``;
``speech_final:true`` when an endpoint, i.e. a pause of ``endpointing`` ms (at least 300 ms,
energy-based) follows speech; ``from_finalize:true`` after ``Finalize``); ``SpeechStarted``
(``vad_events=true``); ``UtteranceEnd`` (``utterance_end_ms`` + ``interim_results``);
``Metadata`` after ``CloseStream``, then close (1000).

Continuous speech is finalized every few seconds, as Deepgram does: once a
segment is :data:`SOFT_SEGMENT` long it is finalized (``is_final:true``, ``speech_final:false``)
at its next short pause between words (:data:`WORD_PAUSE`), at the latest at
:data:`MAX_SEGMENT`. So ``Finalize`` never re-recognises more than a few seconds.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import asr, schemas
from .audio import WHISPER_RATE
from .context import EmulatorContext, ServerSocket
from .errors import bad_input
from .models import ModelInfo
from .query import flag, milliseconds, query_instance
from .rest_asr import nova_options
from .results import deepgram_alternative
from .streaming import ListenSession, json_message, serve_listen
from .transcript import Options, Transcript
from .vad import FRAME_SAMPLES, samples_for_ms, seconds

_LOGGER = logging.getLogger(__name__)

MODEL_UUID = str(uuid.uuid5(uuid.NAMESPACE_URL, "@cf/deepgram/nova-3"))
MODEL_INFO = {"name": "general-nova-3", "version": "2025-01-01.0", "arch": "nova-3"}
INTERIM_EVERY = WHISPER_RATE // 2
"""Interim results at most every 0.5 s of new audio (samples)."""
MIN_ENDPOINT_MS = 300
"""Shortest pause (ms) the energy-based endpointing honours."""
DEFAULT_ENDPOINTING_MS = 10
"""Deepgram's default ``endpointing`` (ms)."""
SOFT_SEGMENT = 3 * WHISPER_RATE
"""From this length on, a segment is finalized at the next pause between words (samples)."""
WORD_PAUSE = samples_for_ms(100)
"""A pause this long inside speech is a place to finalize a long segment (samples)."""
MAX_SEGMENT = 5 * WHISPER_RATE
"""A segment is finalized (``speech_final:false``) after 5 s without any pause (samples)."""
STREAM_ENCODINGS = ("linear16", "mulaw", "alaw")
SAMPLE_RATES = range(8000, 48001)


@dataclass(frozen=True)
class ListenParams:
    """Validated listen v1 query parameters (times in ms, rates in Hz)."""

    encoding: str
    sample_rate: int
    channels: int
    interim_results: bool
    punctuate: bool
    endpointing_ms: int | None
    utterance_end_ms: int | None
    vad_events: bool
    options: Options


def parse_params(request: web.Request) -> ListenParams:
    """Validate the handshake's query against nova-3's input schema (+ ``sample_rate``).

    Raises :class:`~.errors.CloudflareError` 400/5006 (schema, missing encoding/sample_rate,
    encodings the emulator cannot stream) or 400/3010 (language), answered before the upgrade.
    """
    query = request.query
    instance = query_instance(query, schemas.NOVA_3_INPUT, skip=("sample_rate",))
    utterance_end = instance.get("utterance_end_ms")
    if isinstance(utterance_end, str) and utterance_end.isdigit():
        instance["utterance_end_ms"] = True  # schema says boolean; real value is ms
    schemas.validate(schemas.NOVA_3_INPUT, {**instance, "audio": {"body": {}, "contentType": ""}})
    encoding = instance.get("encoding")
    if encoding is None:
        raise bad_input(
            "Error: encoding is required for streaming raw audio (the emulator does "
            "not stream containerized audio); use encoding=linear16"
        )
    if encoding not in STREAM_ENCODINGS:
        raise bad_input(
            f"Error: the emulator streams {', '.join(STREAM_ENCODINGS)} only, not '{encoding}'"
        )
    rate = query.get("sample_rate", "")
    if not rate.isdigit() or int(rate) not in SAMPLE_RATES:
        raise bad_input("Error: sample_rate (Hz, 8000-48000) is required with encoding")
    channels = instance.get("channels", 1)
    if not isinstance(channels, int) or not 1 <= channels <= 8:
        raise bad_input("Error: channels must be an integer between 1 and 8")
    utterance_end_ms = milliseconds(query.get("utterance_end_ms"), None)
    return ListenParams(
        encoding=str(encoding),
        sample_rate=int(rate),
        channels=channels,
        interim_results=flag(query, "interim_results"),
        punctuate=flag(query, "punctuate") or flag(query, "smart_format"),
        endpointing_ms=milliseconds(query.get("endpointing"), DEFAULT_ENDPOINTING_MS),
        utterance_end_ms=utterance_end_ms,
        vad_events=flag(query, "vad_events"),
        options=nova_options(request, instance),
    )


async def serve(
    request: web.Request, context: EmulatorContext, model: ModelInfo
) -> web.StreamResponse:
    """Validate the handshake (4xx envelope before upgrading), then run the session."""
    params = parse_params(request)
    return await serve_listen(request, context, lambda sock: ListenV1Session(sock, context, params))


class ListenV1Session(ListenSession):
    """One nova-3 streaming session."""

    def __init__(self, sock: ServerSocket, context: EmulatorContext, params: ListenParams):
        super().__init__(
            sock,
            context,
            sample_rate=params.sample_rate,
            channels=params.channels,
            encoding=params.encoding,
        )
        self.params = params
        self.segment_start = 0
        self._last_interim_end = 0
        self._speech_started_sent = False
        self._pending_utterance_end: float | None = None
        endpoint_ms = params.endpointing_ms
        self._endpoint_silence = (
            None if endpoint_ms is None else samples_for_ms(max(endpoint_ms, MIN_ENDPOINT_MS))
        )

    def supports_finalize(self) -> bool:
        return True

    async def on_audio(self, limit: int, *, final: bool) -> None:
        buffer = self.buffer
        # SpeechStarted (vad_events): once per segment, when speech begins.
        if self.params.vad_events and not self._speech_started_sent:
            onset = buffer.speech_onset(self.segment_start, limit)
            if onset is not None:
                self._speech_started_sent = True
                await self.sock.send_json(
                    json_message("SpeechStarted", channel=[0, 1], timestamp=seconds(onset))
                )
        # Endpoints: finalize every segment that ends in a long enough pause.
        while self._endpoint_silence is not None:
            end = buffer.endpoint(self.segment_start, limit, self._endpoint_silence)
            if end is None:
                break
            await self._finalize_segment(end, speech_final=True)
        # Continuous speech: finalize every few seconds of speech (counted from its onset, not
        # from the silence before it), at a pause between words if any.
        while True:
            onset = buffer.speech_onset(self.segment_start, limit)
            if onset is None or limit - onset < SOFT_SEGMENT:
                break
            soft_end = onset + SOFT_SEGMENT
            cut = buffer.endpoint(soft_end - WORD_PAUSE, limit, WORD_PAUSE)
            if cut is None or cut - onset > MAX_SEGMENT:
                if limit - onset < MAX_SEGMENT:
                    break
                cut = onset + MAX_SEGMENT
            await self._finalize_segment(cut, speech_final=False)
        await self._maybe_utterance_end(limit)
        # Interim results on the growing segment.
        if (
            self.params.interim_results
            and not final
            and not self.command_pending
            and limit - max(self._last_interim_end, self.segment_start) >= INTERIM_EVERY
            and buffer.has_speech(self.segment_start, limit)
        ):
            self._last_interim_end = limit
            transcript = await self._transcribe(self.segment_start, limit)
            await self._send_results(self.segment_start, limit, transcript, is_final=False)

    async def on_finalize(self, position: int) -> None:
        await self._finalize_segment(position, speech_final=False, from_finalize=True, always=True)

    async def on_close(self, position: int) -> None:
        # Remaining audio (more than a resampler's tail of a few samples) gets final Results.
        if position - self.segment_start >= FRAME_SAMPLES:
            await self._finalize_segment(position, speech_final=False)
        await self.sock.send_json(
            json_message(
                "Metadata",
                transaction_key="deprecated",
                request_id=self.sock.request_id,
                sha256=self.audio_sha256,
                created=self.metadata_created(),
                duration=seconds(self.buffer.end),
                channels=self.params.channels,
                models=[MODEL_UUID],
                model_info={MODEL_UUID: MODEL_INFO},
            )
        )
        await self.sock.close(1000)

    async def _finalize_segment(
        self, end: int, *, speech_final: bool, from_finalize: bool = False, always: bool = False
    ) -> None:
        start = self.segment_start
        if end <= start and not always:
            return
        transcript = await self._transcribe(start, end)
        await self._send_results(
            start,
            end,
            transcript,
            is_final=True,
            speech_final=speech_final,
            from_finalize=from_finalize,
        )
        if transcript.words:
            self._pending_utterance_end = round(seconds(start) + transcript.words[-1].end, 3)
        self.segment_start = max(start, end)
        self._last_interim_end = self.segment_start
        self._speech_started_sent = False
        self.buffer.drop_before(self.segment_start)

    async def _maybe_utterance_end(self, limit: int) -> None:
        wait_ms = self.params.utterance_end_ms
        last_word_end = self._pending_utterance_end
        if wait_ms is None or not self.params.interim_results or last_word_end is None:
            return
        # Speech since the last word restarts the wait.
        if self.buffer.has_speech(self.segment_start, limit):
            return
        if seconds(limit) - last_word_end >= wait_ms / 1000:
            self._pending_utterance_end = None
            await self.sock.send_json(
                json_message("UtteranceEnd", channel=[0, 1], last_word_end=last_word_end)
            )

    async def _transcribe(self, start: int, end: int) -> Transcript:
        if not self.buffer.has_speech(start, end):
            return Transcript("", (), "en", 1.0, seconds(end - start), seconds(end - start))
        return await asr.transcribe(
            self.buffer.audio(start, end), self.params.options, self.model_latency_ms
        )

    async def _send_results(
        self,
        start: int,
        end: int,
        transcript: Transcript,
        *,
        is_final: bool,
        speech_final: bool = False,
        from_finalize: bool = False,
    ) -> None:
        alternative = deepgram_alternative(
            transcript.words, punctuate=self.params.punctuate, offset=seconds(start)
        )
        message: dict[str, Any] = json_message(
            "Results",
            channel_index=[0, 1],
            duration=seconds(max(0, end - start)),
            start=seconds(start),
            is_final=is_final,
            speech_final=speech_final,
            from_finalize=from_finalize,
            channel={"alternatives": [alternative]},
            metadata={
                "request_id": self.sock.request_id,
                "model_info": MODEL_INFO,
                "model_uuid": MODEL_UUID,
            },
        )
        await self.sock.send_json(message)
