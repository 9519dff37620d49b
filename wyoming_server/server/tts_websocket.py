"""The aura WebSocket half of a reply (:class:`~.tts.SynthesisReply` builds on it).

One aura WebSocket per reply (Deepgram speak v1, ``Speak`` + ``Flush``:
https://developers.deepgram.com/docs/tts-websocket), opened early, with one flush synthesized
at a time and the sentences completed meanwhile grouped into the next one (see tts.py). A
WebSocket that closed while the reply waited for more text is reopened for the next sentence
(:meth:`AuraWebSocketReply._reopen_websocket`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from ..workers_ai import WorkersAIClient, audio, catalog
from ..workers_ai.errors import FlushLimitError, StreamClosedError
from ..workers_ai.speak import SpeakSession
from .settings import TTS_WEBSOCKET_SAMPLE_RATE_HZ, ServerSettings
from .speak_spares import spares_for

_LOGGER = logging.getLogger(__name__)

PcmStream = AsyncIterator[tuple[bytes, int]]
"""A sentence's audio: (s16le mono PCM, rate in Hz) pieces in order."""


class AuraWebSocketReply:
    """The WebSocket state and methods of a reply; the reply sets the attributes."""

    client: WorkersAIClient
    voice: catalog.Voice
    model: catalog.SpeechModel
    settings: ServerSettings
    spoken: int
    websocket_reopens: int
    _stack: contextlib.AsyncExitStack
    _speak: SpeakSession | None
    _opening: asyncio.Task[SpeakSession | None] | None
    _use_websocket: bool
    _ws_busy: bool
    _group: list[str]

    def open_early(self) -> None:
        """Start connecting (the reply's)."""
        raise NotImplementedError

    async def _rest_synthesize(self, sentence: str) -> audio.PcmAudio:
        """One sentence over REST (the reply's)."""
        raise NotImplementedError

    async def _open_websocket(self) -> SpeakSession:
        if self._speak is not None and self._speak.closed and self._use_websocket:
            return await self._reopen_websocket()
        if self._speak is None:
            if self._opening is None:
                self.open_early()
            assert self._opening is not None
            self._speak = await self._opening
            assert self._speak is not None
        return self._speak

    async def _connect_websocket(self) -> SpeakSession:
        spare = await spares_for(self.client).take(self.voice)
        if spare is not None:  # opened ahead of this reply: no handshake on the path
            self._stack.push_async_callback(spare.aclose)
            return spare.session
        async with asyncio.timeout(self.settings.stream_timeout):
            return await self._stack.enter_async_context(
                self.client.speak(
                    self.model.model_id,
                    speaker=self.voice.speaker,
                    sample_rate=TTS_WEBSOCKET_SAMPLE_RATE_HZ,
                )
            )

    async def _reopen_websocket(self) -> SpeakSession:
        """A new aura WebSocket for the rest of the reply, the old one having closed.

        Deepgram's speak v1 has no ``KeepAlive`` (its messages are ``Speak``, ``Flush``,
        ``Clear``, ``Close``: https://developers.deepgram.com/docs/tts-websocket,
        https://github.com/deepgram/deepgram-python-sdk/tree/main/src/deepgram/speak/v1) and
        documents no idle timeout, only 60 minutes per connection
        (https://developers.deepgram.com/docs/streaming-text-to-speech#timeout-limits); its
        listen API closes after 10 s without data
        (https://developers.deepgram.com/docs/audio-keep-alive). So nothing is sent during a
        text gap; if Workers AI closed the socket meanwhile, the next sentence opens a new one
        (connect budget of the client) and is spoken there. Only a flush with no audio yet is
        sent again, so no sentence is lost or repeated. Raises what the handshake raises.
        """
        self.websocket_reopens += 1
        _LOGGER.info(
            "%s WebSocket closed during the reply (%d); reopening",
            self.model.short_name,
            self.websocket_reopens,
        )
        self._speak, self._opening = None, None
        return await self._open_websocket()

    async def _flush_or_reopen(self, speak: SpeakSession, text: str) -> SpeakSession:
        """``Speak`` + ``Flush`` ``text`` (:meth:`_send_flush`), on a reopened WebSocket if
        ``speak`` closed before it could be sent; returns the session it went to."""
        async with asyncio.timeout(self.settings.stream_timeout):
            try:
                await self._send_flush(speak, text)
            except StreamClosedError:
                speak = await self._reopen_websocket()
                await self._send_flush(speak, text)
        return speak

    async def _send_flush(self, speak: SpeakSession, text: str) -> bool:
        """``Speak`` + ``Flush`` ``text`` unless the flush limit is reached (then REST is used
        from here on); True when it was sent."""
        if not self._use_websocket:
            return False
        try:
            await speak.send_text(text)
        except FlushLimitError as err:
            _LOGGER.warning("%s; speaking the rest of the reply over REST", err)
            self._use_websocket = False
            return False
        return True

    async def _websocket_audio(self, speak: SpeakSession, text: str) -> PcmStream:
        """The audio of the flush of ``text`` (already sent, unless the limit stopped it),
        then of each group of sentences that arrived meanwhile, one flush per group."""
        sent = self._use_websocket
        count = 1  # sentences in this flush
        resent = False  # this flush was sent again after its WebSocket closed
        try:
            while True:
                if sent:
                    frames = 0
                    try:
                        async for frame in speak.flushed_audio(
                            timeout=self.settings.stream_timeout
                        ):
                            frames += 1
                            yield frame, speak.sample_rate
                    except StreamClosedError:
                        if frames or resent:  # some audio came: never repeat it
                            raise
                        # Closed before any audio of this flush (an idle close racing the
                        # send): speak it once more, on a new WebSocket.
                        speak = await self._flush_or_reopen(await self._reopen_websocket(), text)
                        sent, resent = self._use_websocket, True
                        continue
                    except FlushLimitError as err:  # the model refused it: no audio will come
                        _LOGGER.warning("%s; speaking the rest of the reply over REST", err)
                        self._use_websocket = False
                        sent = False
                if not sent:
                    result = await self._rest_synthesize(text)
                    yield result.pcm, result.sample_rate
                self.spoken += count
                if not self._group:
                    return
                count = len(self._group)
                text = self._take_group()
                count -= len(self._group)
                speak = await self._flush_or_reopen(await self._open_websocket(), text)
                sent, resent = self._use_websocket, False
        finally:
            self._ws_busy = False

    def _take_group(self) -> str:
        """The next flush's text: the grouped sentences in order, as many as fit into one
        request (``max_text_chars``; each sentence already does); the rest wait for the
        flush after it."""
        limit = self.model.max_text_chars
        text = self._group.pop(0)
        while self._group and (limit is None or len(text) + 1 + len(self._group[0]) <= limit):
            text = f"{text} {self._group.pop(0)}"
        return text
