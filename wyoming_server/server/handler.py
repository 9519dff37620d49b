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

This module owns the connection (read loop, serialized writes, shutdown, closing); the
requests themselves are :class:`.transcribe_flow.TranscribeFlow` (speech to text) and
:class:`.synthesize_flow.SynthesizeFlow` (text to speech).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from wyoming.event import Event
from wyoming.ping import Pong
from wyoming.server import AsyncEventHandler

from ..workers_ai import WorkersAIClient
from . import protocol
from .breakers import Failover
from .limits import SERVER_STOPPING, BackendSlots
from .metrics import LatencyProbe, ServerMetrics
from .protocol import ConnectionEndingError
from .request_errors import BadRequestError, describe_failure
from .settings import ServerSettings
from .synthesize_flow import TTS_EVENTS, SynthesizeFlow
from .transcribe_flow import STT_EVENTS, TranscribeFlow
from .vocabulary import ServerVocabulary

_LOGGER = logging.getLogger(__name__)

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
        failover: Failover | None = None,
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
        self._stt = TranscribeFlow(
            self.write_event,
            client=client,
            settings=settings,
            slots=self.slots,
            vocabulary=self.vocabulary,
            failover=failover.stt if failover else None,
        )
        self._tts = SynthesizeFlow(
            self.write_event,
            client=client,
            settings=settings,
            slots=self.slots,
            failover=failover.tts if failover else None,
        )
        self._failover = failover
        self._probe = (
            LatencyProbe(metrics, self._stt.speech_end, settings.tts_voice) if metrics else None
        )
        self._write_lock = asyncio.Lock()
        self._stopping = False

    # ------------------------------------------------------------------ connection

    @property
    def active(self) -> bool:
        """True while a request is open (utterance, TTS reply or stream)."""
        return self._stt.active or self._tts.active

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
        stt_told = await self._stt.abort(err)
        tts_told = await self._tts.abort(err)
        if not (stt_told or tts_told):
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
        await self._stt.close()
        await self._tts.close()

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
                if self._failover is not None:
                    self._failover.log_state()
                await self.write_event(self.info_event)
            case "ping":
                await self.write_event(Pong(text=protocol.optional_str(data, "text")).event())
            case "transcribe":
                await self._stt.on_transcribe(protocol.transcribe_request(data))
            case "audio-start":
                await self._stt.on_audio_start(data)
            case "audio-chunk":
                await self._stt.on_audio_chunk(data, event.payload or b"")
            case "audio-stop":
                await self._stt.on_audio_stop()
            case "synthesize":
                await self._tts.on_synthesize(data)
            case "synthesize-start":
                await self._tts.on_synthesize_start(data)
            case "synthesize-chunk":
                await self._tts.on_synthesize_chunk(protocol.required_str(data, "text"))
            case "synthesize-stop":
                await self._tts.on_synthesize_stop()
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
        if event.type in STT_EVENTS:
            await self._stt.fail(err, at_stop=event.type == "audio-stop")
        elif event.type in TTS_EVENTS:
            await self._tts.fail(event.type, err)
        else:
            await self.write_event(failure.event().event())
