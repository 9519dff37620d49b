"""The text-to-speech events of one Wyoming connection: ``synthesize`` and ``synthesize-*``.

Event flows: "Text to Speech" in the "Event Flow" of https://github.com/OHF-Voice/wyoming
(README). The plain flow is one ``synthesize`` (text and voice), answered by ``audio-start``,
``audio-chunk``*, ``audio-stop``. The streaming flow is ``synthesize-start``,
``synthesize-chunk``*, ``synthesize-stop``, answered by the same audio events and then
``synthesize-stopped``; a client that streams also sends the whole text as one ``synthesize``
for older servers, which is ignored inside a stream. Home Assistant waits for ``audio-stop``
resp. ``synthesize-stopped`` and ignores ``error``
(https://github.com/home-assistant/core/blob/dev/homeassistant/components/wyoming/tts.py), so
every failure sends ``error`` plus that terminal event.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from wyoming.audio import AudioStop
from wyoming.tts import SynthesizeStopped

from ..workers_ai import WorkersAIClient
from . import protocol
from .limits import BackendSlots, Slot
from .request_errors import SSML_NOT_SUPPORTED, BadRequestError, describe_failure
from .settings import ServerSettings
from .transcripts import WriteEvent
from .tts import SynthesisReply
from .voices import resolve_voice

if TYPE_CHECKING:
    from .breakers import TaskFailover

_LOGGER = logging.getLogger(__name__)

SSML = "ssml"
"""``text_format`` of SSML text (``SynthesizeTextFormat`` in ``wyoming/tts.py``,
https://github.com/OHF-Voice/wyoming)."""

TTS_EVENTS = frozenset({"synthesize", "synthesize-start", "synthesize-chunk", "synthesize-stop"})
"""The Wyoming event types this flow handles."""


class SynthesizeFlow:
    """The replies of one connection: a plain one and a streaming one (owned by its event
    handler)."""

    def __init__(
        self,
        write_event: WriteEvent,
        *,
        client: WorkersAIClient,
        settings: ServerSettings,
        slots: BackendSlots,
        failover: TaskFailover | None = None,
    ) -> None:
        """``write_event`` sends one event to the client (the handler's, serialized);
        ``slots`` is the process-wide Workers AI request limit, shared by all connections."""
        self._write_event = write_event
        self._client = client
        self._settings = settings
        self._slots = slots
        self._in_stream = False
        self._stream: SynthesisReply | None = None
        self._stream_slot: Slot | None = None
        self._plain: SynthesisReply | None = None
        self._plain_slot: Slot | None = None
        self._failover = failover

    @property
    def active(self) -> bool:
        """True while a plain reply is spoken or a stream is open."""
        return self._in_stream or self._plain is not None

    def _reply(self, data: dict[str, Any], *, streaming: bool) -> SynthesisReply:
        """A reply in the voice ``data`` asks for; raises ``BadRequestError`` for an unknown
        voice, or (``service-unavailable``) while the breaker is open without a fallback."""
        voice = resolve_voice(protocol.voice_request(data), self._settings.tts_voice)
        _LOGGER.debug("Reply with voice %s (streaming=%s)", voice.name, streaming)
        if self._failover is not None:
            from .fallback_tts import FailoverReply  # noqa: PLC0415

            return FailoverReply(
                self._client,
                voice,
                self._settings,
                self._write_event,
                streaming=streaming,
                failover=self._failover,
            )
        return SynthesisReply(
            self._client, voice, self._settings, self._write_event, streaming=streaming
        )

    async def on_synthesize(self, data: dict[str, Any]) -> None:
        """``synthesize``: speak ``data["text"]`` as one reply (ignored inside a stream).

        Raises ``BadRequestError`` (``ssml-not-supported``) for ``text_format`` "ssml"."""
        if self._in_stream:
            _LOGGER.debug("Ignoring the compatibility synthesize inside a stream")
            return
        _refuse_ssml(data)
        text = protocol.required_str(data, "text")
        reply = self._reply(data, streaming=False)
        self._plain_slot = await self._slots.acquire()
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

    async def on_synthesize_start(self, data: dict[str, Any]) -> None:
        """``synthesize-start``: end any open stream, then open the next one.

        Raises ``BadRequestError`` (``ssml-not-supported``) for ``text_format`` "ssml"; the
        stream's chunks are then ignored until ``synthesize-stop``."""
        await self._end_stream()
        self._in_stream = True  # a refusal below ends in synthesize-stopped (see fail)
        _refuse_ssml(data)
        reply = self._reply(data, streaming=True)
        self._stream_slot = await self._slots.acquire()
        self._stream = reply
        self._stream.start_streaming()

    async def on_synthesize_chunk(self, text: str) -> None:
        """``synthesize-chunk``: more text for the stream (opened if it was not)."""
        if not self._in_stream:
            _LOGGER.warning("synthesize-chunk without synthesize-start: starting a stream")
            await self.on_synthesize_start({})
        if self._stream is not None:
            await self._stream.add_text(text)

    async def on_synthesize_stop(self) -> None:
        """``synthesize-stop``: finish the stream (a bare ``synthesize-stopped`` without one)."""
        if not self._in_stream:  # a stop without a stream: still answer, nobody waits forever
            await self._write_event(SynthesizeStopped().event())
        elif self._stream is not None:
            await self._stream.finish()
        await self._end_stream()

    async def fail(self, event_type: str, err: BaseException) -> None:
        """``error`` + the terminal events HA waits for (once per reply), after the event
        ``event_type`` failed with ``err``."""
        reply = self._stream if self._in_stream else self._plain
        if reply is not None:
            await reply.abort(err, logged=True)
        else:  # failed before a reply existed (bad voice or text)
            await self._write_event(describe_failure(err).event().event())
            if self._in_stream:
                await self._write_event(SynthesizeStopped().event())
            else:
                await self._write_event(AudioStop().event())
        if event_type == "synthesize-stop":
            await self._end_stream()

    async def abort(self, err: BaseException) -> bool:
        """Fail the open replies with ``err`` (``error`` + terminal events), without closing
        them; returns whether the client was told."""
        told = False
        for reply in (self._stream, self._plain):
            if reply is not None and not reply.done:
                await reply.abort(err, logged=True)
                told = True
        return told

    async def _end_stream(self) -> None:
        stream, self._stream = self._stream, None
        self._in_stream = False
        try:
            if stream is not None:
                await stream.aclose()
        finally:
            slot, self._stream_slot = self._stream_slot, None
            if slot is not None:
                slot.release()

    async def close(self) -> None:
        """Client gone: close the stream (its WebSocket) and free the replies' slots."""
        await self._end_stream()
        self._release_plain_slot()


def _refuse_ssml(data: dict[str, Any]) -> None:
    """Raise ``BadRequestError`` if ``data`` (a ``synthesize``/``synthesize-start`` event's raw
    data, read raw so it works with a wyoming that lacks ``text_format``) asks for SSML.

    Workers AI's aura models and MeloTTS speak plain text only: no SSML in their input schemas
    (https://developers.cloudflare.com/workers-ai/models/aura-2-en/,
    https://developers.cloudflare.com/workers-ai/models/melotts/); tags would be read aloud.
    """
    text_format = data.get("text_format")
    if isinstance(text_format, str) and text_format.lower() == SSML:
        raise BadRequestError(
            "SSML is not supported: Workers AI's aura and MeloTTS models speak plain text only",
            SSML_NOT_SUPPORTED,
        )
