"""One Wyoming connection: dispatch events to speech-to-text and text-to-speech.

Event flows: the "Event Flow" of https://github.com/OHF-Voice/wyoming (README). Home Assistant
(``stt.py`` and ``tts.py`` in
https://github.com/home-assistant/core/tree/dev/homeassistant/components/wyoming) ignores
``error`` and waits for the terminal event. Hence: unknown events are ignored (as
https://github.com/rhasspy/wyoming-piper does), ``ping`` gets ``pong``, every request ends with
its terminal event even when it fails (``transcript`` for STT, ``audio-stop`` for
``synthesize``, ``synthesize-stopped`` for the streaming flow), and a malformed byte stream gets
an ``error`` before this one connection closes. Nothing here can disturb other connections:
each has its own handler, state and tasks.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from wyoming.audio import AudioStop
from wyoming.event import Event
from wyoming.ping import Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import SynthesizeStopped

from . import protocol
from .languages import LANGUAGE_FALLBACK, check_language, supports
from .limits import SERVER_STOPPING, BackendSlots, Slot
from .metrics import LatencyProbe, ServerMetrics
from .protocol import ConnectionEndingError, TranscribeRequest
from .request_errors import BadRequestError, describe_failure
from .server_vocabulary import ServerVocabulary
from .settings import ServerSettings
from .speak_spares import spares_for
from .stt import Utterance, UtteranceRequest, create_utterance, resolve_asr_model
from .transcripts import TranscriptEvents
from .tts import SynthesisReply
from .utterance import SpeechEnd
from .voices import resolve_voice
from .workers_ai import WorkersAIClient, catalog
from .workers_ai.catalog import FLUX

_LOGGER = logging.getLogger(__name__)

_STT_EVENTS = frozenset({"transcribe", "audio-start", "audio-chunk", "audio-stop"})
_TTS_EVENTS = frozenset({"synthesize", "synthesize-start", "synthesize-chunk", "synthesize-stop"})
LINGER_SECONDS = 1.0
"""After an error, unread input is drained this long before the socket closes, so the client
reads the ``error`` instead of a TCP reset (closing with unread data sends RST)."""


class WorkersAIEventHandler(AsyncEventHandler):
    """Handle the events of one client connection."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        info_event: Event,
        client: WorkersAIClient,
        settings: ServerSettings,
        slots: BackendSlots | None = None,
        vocabulary: ServerVocabulary | None = None,
        metrics: ServerMetrics | None = None,
    ) -> None:
        """``info_event`` is the prebuilt answer to ``describe``; ``client``, ``slots`` (the
        process-wide Workers AI request limit), ``vocabulary`` (key terms; default:
        ``settings.keyterms``) and ``metrics`` are shared by all connections."""
        super().__init__(reader, writer)
        self.info_event = info_event
        self.client = client
        self.settings = settings
        self.limits = settings.limits
        self.slots = slots or BackendSlots(settings.limits)
        self.vocabulary = vocabulary or ServerVocabulary(settings.keyterms)
        self._probe = (
            LatencyProbe(metrics, self._speech_end, settings.tts_voice) if metrics else None
        )
        self._write_lock = asyncio.Lock()
        self._stopping = False
        self._stt_slot: Slot | None = None
        self._tts_slot: Slot | None = None
        self._plain_slot: Slot | None = None
        # Speech to text
        self._request: UtteranceRequest | None = None
        self._utterance: Utterance | None = None
        self._prepared: Utterance | None = None  # connecting since transcribe
        self._discard_audio = False
        # Streaming text to speech (synthesize-start ... synthesize-stop)
        self._in_stream = False
        self._stream: SynthesisReply | None = None
        self._plain: SynthesisReply | None = None

    # ------------------------------------------------------------------ connection

    @property
    def active(self) -> bool:
        """True while a request is open (utterance, TTS reply or stream)."""
        return (
            self._request is not None
            or self._utterance is not None
            or self._discard_audio
            or self._in_stream
            or self._plain is not None
        )

    async def run(self) -> None:
        """Read events until EOF, a malformed or over-limit event, a timeout, a write failure,
        or (when the server stops) the end of the open request."""
        self._is_running = True
        linger = False
        try:
            while self._is_running and not (self._stopping and not self.active):
                try:
                    event = await protocol.read_event(
                        self.reader, self.limits, idle=not self.active
                    )
                except ConnectionEndingError as err:
                    _LOGGER.warning("Closing connection: %s", err.message)
                    linger = True
                    await self.abort_requests(err)
                    break
                if event is None or not await self.handle_event(event):
                    break
        except ConnectionError as err:
            _LOGGER.debug("Connection lost: %s", err)
        finally:
            await self._close(linger=linger)

    async def _close(self, *, linger: bool) -> None:
        await self.disconnect()
        if linger:
            await self._linger()
        self.writer.close()

    async def _linger(self) -> None:
        """Half-close, then discard input until EOF (bounded), so the ``error`` is readable."""
        try:
            async with asyncio.timeout(LINGER_SECONDS):
                if self.writer.can_write_eof():
                    self.writer.write_eof()
                while await self.reader.read(64 << 10):
                    pass
        except (TimeoutError, OSError, ValueError, RuntimeError):
            pass

    def request_stop(self) -> None:
        """Server shutdown: close now if idle, else after the open request ends."""
        self._stopping = True
        # Events already received but not yet read are still served (they may open a request).
        if not self.active and not getattr(self.reader, "_buffer", None):
            self.reader.feed_eof()

    async def abort_requests(self, err: BaseException) -> None:
        """Fail every open request of this connection with ``err``: ``error`` plus the terminal
        events its client waits for; a plain ``error`` when none is open."""
        told = False
        utterance = self._utterance
        if utterance is not None and not utterance.done:
            await utterance.abort(err)
            told = True
        elif self._request is not None and utterance is None:
            await self.write_event(describe_failure(err).event().event())
            await TranscriptEvents(self.write_event, None).finish("")
            told = True
        for reply in (self._stream, self._plain):
            if reply is not None and not reply.done:
                await reply.abort(err, logged=True)
                told = True
        if not told:
            await self.write_event(describe_failure(err).event().event())

    async def stop_now(self) -> None:
        """Grace period over: fail the open requests (server stopping), then end the
        connection (the caller cancels the handler task)."""
        self._is_running = False
        try:
            await self.abort_requests(
                BadRequestError("The server is shutting down; try again", SERVER_STOPPING)
            )
        except (ConnectionError, RuntimeError) as err:
            _LOGGER.debug("Cannot tell the client about the shutdown: %s", err)

    async def write_event(self, event: Event) -> None:
        """Send one event; serialized, since background tasks write too. A client that does
        not read for ``event_timeout`` seconds counts as gone (``ConnectionResetError``)."""
        async with self._write_lock:
            try:
                async with asyncio.timeout(self.limits.event_timeout):
                    await super().write_event(event)
            except TimeoutError:
                self.writer.transport.abort()
                raise ConnectionResetError("client does not read its events") from None
        if self._probe is not None:
            self._probe.event_out(event)

    async def disconnect(self) -> None:
        """Client gone: stop this connection's work and close its WebSockets."""
        await self._end_utterance()
        await self._end_stream()
        self._release_plain_slot()

    # ------------------------------------------------------------------ dispatch

    async def handle_event(self, event: Event) -> bool:
        """Handle one event; returns ``False`` only when the connection must close."""
        _LOGGER.debug("Event %s", event.type)
        if self._probe is not None:
            self._probe.event_in(event)
        try:
            await self._dispatch(event)
        except ConnectionError:
            raise  # the client is gone: nobody to tell
        except Exception as err:  # any request failure ends in an error event
            await self._reject(event, err)
        return True

    async def _dispatch(self, event: Event) -> None:
        data: dict[str, Any] = event.data or {}
        match event.type:
            case "describe":
                await self.write_event(self.info_event)
            case "ping":
                await self.write_event(Pong(text=protocol.optional_str(data, "text")).event())
            case "transcribe":
                await self._on_transcribe(protocol.transcribe_request(data))
            case "audio-start":
                await self._on_audio_start(data)
            case "audio-chunk":
                await self._on_audio_chunk(data, event.payload or b"")
            case "audio-stop":
                await self._on_audio_stop()
            case "synthesize":
                await self._on_synthesize(data)
            case "synthesize-start":
                await self._on_synthesize_start(data)
            case "synthesize-chunk":
                await self._on_synthesize_chunk(protocol.required_str(data, "text"))
            case "synthesize-stop":
                await self._on_synthesize_stop()
            case "select-program":
                _LOGGER.debug("Ignoring select-program %s: one program per type", data.get("name"))
            case _:
                _LOGGER.debug("Ignoring unknown event %s", event.type)

    async def _reject(self, event: Event, err: BaseException) -> None:
        """Report a failed event: ``error`` plus the terminal event its request needs."""
        failure = describe_failure(err)
        if failure.code == "internal-error":
            _LOGGER.error("Event %s failed", event.type, exc_info=err)
        else:
            _LOGGER.warning("Event %s rejected: %s", event.type, failure.text)
        if event.type in _STT_EVENTS:
            await self._fail_stt(err, at_stop=event.type == "audio-stop")
        elif event.type in _TTS_EVENTS:
            await self._fail_tts(event.type, err)
        else:
            await self.write_event(failure.event().event())

    # ------------------------------------------------------------------ speech to text

    def _utterance_request(self, request: TranscribeRequest) -> UtteranceRequest:
        model = resolve_asr_model(request.name, self.settings.stt_model)
        tag = request.language or self.settings.language
        if request.name is None and model.model_id != FLUX and not supports(model, tag):
            # Home Assistant offers the languages of every listed model but never names one:
            # use the multilingual Whisper rather than fail. (Not with flux as the default:
            # Home Assistant then leaves the end of speech to the model, which REST cannot do.)
            fallback = catalog.get_model(LANGUAGE_FALLBACK)
            if supports(fallback, tag):
                _LOGGER.info(
                    "%s does not support %s: using %s", model.model_id, tag, fallback.model_id
                )
                model = fallback
        language = check_language(model, tag)
        vocabulary = self.vocabulary.current(request.terms)
        return UtteranceRequest(model, language, vocabulary.keyterms, vocabulary.initial_prompt)

    def _speech_end(self) -> tuple[str, SpeechEnd | None] | None:
        """The current utterance's model and end of speech (latency metric), if any."""
        utterance = self._utterance
        if utterance is None:
            return None
        return utterance.request.model.model_id, utterance.speech_end

    async def _on_transcribe(self, request: TranscribeRequest) -> None:
        await self._end_utterance()
        self._discard_audio = False
        self._request = self._utterance_request(request)
        # Connect now (WebSocket, or a pooled HTTP connection), not at audio-start/audio-stop.
        self._prepared = create_utterance(
            self.client, self._request, self.settings, self.write_event
        )
        self._prepared.prepare()

    async def _start_utterance(self, data: dict[str, Any]) -> Utterance:
        protocol.audio_format(data)  # validate before any network work
        request = self._request or self._utterance_request(TranscribeRequest())
        self._stt_slot = await self.slots.acquire()
        utterance, self._prepared = self._prepared, None
        if utterance is None or utterance.request is not request:
            if utterance is not None:
                await utterance.aclose()
            utterance = create_utterance(self.client, request, self.settings, self.write_event)
        self._utterance = utterance
        _LOGGER.debug("Utterance with %s (%s)", request.model.model_id, request.language)
        await utterance.start()
        return utterance

    async def _on_audio_start(self, data: dict[str, Any]) -> None:
        if self._discard_audio:
            return
        utterance, self._utterance = self._utterance, None  # keep the prepared one
        if utterance is not None:
            await utterance.aclose()
        await self._start_utterance(data)

    async def _on_audio_chunk(self, data: dict[str, Any], payload: bytes) -> None:
        if self._discard_audio:
            return
        utterance = self._utterance or await self._start_utterance(data)
        if utterance.done:
            return  # transcript already sent (flux EndOfTurn or failure): ignore the rest
        fmt = protocol.audio_format(data)
        if payload:
            await utterance.audio(payload, fmt)

    async def _on_audio_stop(self) -> None:
        if self._discard_audio:
            self._discard_audio = False
            self._request = None
            return
        utterance = self._utterance
        if utterance is None:
            await TranscriptEvents(self.write_event, None).finish("")  # no audio at all
        else:
            await utterance.stop()
            if self.settings.tts_streaming and self.settings.spare_websockets:
                # A voice command was spoken: its reply follows.
                spares_for(self.client).prepare(catalog.get_voice(self.settings.tts_voice))
        await self._end_utterance()
        self._request = None

    async def _fail_stt(self, err: BaseException, *, at_stop: bool) -> None:
        """``error`` + empty/partial ``transcript``; then ignore audio until ``audio-stop``.

        The partial ``transcript`` keeps the text already sent as ``transcript-chunk``s, so the
        chunks still add up to it.
        """
        utterance = self._utterance
        if utterance is not None and not utterance.done:
            await utterance.fail(err, utterance.events.sent_text, logged=True)
        elif utterance is None:
            await self.write_event(describe_failure(err).event().event())
            await TranscriptEvents(self.write_event, None).finish("")
        else:
            await self.write_event(describe_failure(err).event().event())
        await self._end_utterance()
        self._request = None
        self._discard_audio = not at_stop

    async def _end_utterance(self) -> None:
        utterance, self._utterance = self._utterance, None
        prepared, self._prepared = self._prepared, None
        try:
            for pending in (utterance, prepared):
                if pending is not None:
                    await pending.aclose()
        finally:
            slot, self._stt_slot = self._stt_slot, None
            if slot is not None:
                slot.release()

    # ------------------------------------------------------------------ text to speech

    def _reply(self, data: dict[str, Any], *, streaming: bool) -> SynthesisReply:
        voice = resolve_voice(protocol.voice_request(data), self.settings.tts_voice)
        _LOGGER.debug("Reply with voice %s (streaming=%s)", voice.name, streaming)
        return SynthesisReply(
            self.client, voice, self.settings, self.write_event, streaming=streaming
        )

    async def _on_synthesize(self, data: dict[str, Any]) -> None:
        if self._in_stream:
            _LOGGER.debug("Ignoring the compatibility synthesize inside a stream")
            return
        text = protocol.required_str(data, "text")
        reply = self._reply(data, streaming=False)
        self._plain_slot = await self.slots.acquire()
        self._plain = reply
        try:
            await reply.add_text(text)
            await reply.finish()
        finally:
            self._plain = None
            try:
                await reply.aclose()
            finally:
                self._release_plain_slot()

    def _release_plain_slot(self) -> None:
        slot, self._plain_slot = self._plain_slot, None
        if slot is not None:
            slot.release()

    async def _on_synthesize_start(self, data: dict[str, Any]) -> None:
        await self._end_stream()
        self._in_stream = True
        reply = self._reply(data, streaming=True)
        self._tts_slot = await self.slots.acquire()
        self._stream = reply
        self._stream.open_early()

    async def _on_synthesize_chunk(self, text: str) -> None:
        if not self._in_stream:
            _LOGGER.warning("synthesize-chunk without synthesize-start: starting a stream")
            await self._on_synthesize_start({})
        if self._stream is not None:
            await self._stream.add_text(text)

    async def _on_synthesize_stop(self) -> None:
        if not self._in_stream:  # a stop without a stream: still answer, nobody waits forever
            await self.write_event(SynthesizeStopped().event())
        elif self._stream is not None:
            await self._stream.finish()
        await self._end_stream()

    async def _fail_tts(self, event_type: str, err: BaseException) -> None:
        """``error`` + the terminal events HA waits for (once per reply)."""
        reply = self._stream if self._in_stream else self._plain
        if reply is not None:
            await reply.abort(err, logged=True)
        else:  # failed before a reply existed (bad voice or text)
            await self.write_event(describe_failure(err).event().event())
            if self._in_stream:
                await self.write_event(SynthesizeStopped().event())
            else:
                await self.write_event(AudioStop().event())
        if event_type == "synthesize-stop":
            await self._end_stream()

    async def _end_stream(self) -> None:
        stream, self._stream = self._stream, None
        self._in_stream = False
        try:
            if stream is not None:
                await stream.aclose()
        finally:
            slot, self._tts_slot = self._tts_slot, None
            if slot is not None:
                slot.release()
