"""One reply's aura WebSocket, reopened when a pause in the text outlasts it.

Deepgram's speak v1 has no ``KeepAlive`` (its client messages are ``Speak``, ``Flush``,
``Clear``, ``Close``: https://developers.deepgram.com/docs/tts-websocket and
https://github.com/deepgram/deepgram-python-sdk/tree/main/src/deepgram/speak/v1; a Deepgram
maintainer: "KeepAlive doesn't apply to TTS",
https://github.com/deepgram/deepgram-python-sdk/issues/326), and neither Deepgram nor Workers
AI documents its idle timeout. So the link never sends ``KeepAlive``: before the next sentence
batch it replaces a session idle for :data:`IDLE_REOPEN_S` s (or closed), and a batch whose
session turns out closed before any of its audio arrived is sent once more on a new session.
No batch is lost, and none is spoken twice: audio already passed on is never repeated.
"""

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Final

from wyoming_server.workers_ai import WorkersAIClient
from wyoming_server.workers_ai.errors import StreamClosedError
from wyoming_server.workers_ai.speak import SpeakSession

from .const import REQUEST_TIMEOUT
from .tts_spares import SPARE_IDLE_S, SpareKey, SpareSockets

_LOGGER = logging.getLogger(__name__)

IDLE_REOPEN_S: Final = SPARE_IDLE_S
"""Seconds a session may sit idle before the next batch goes to a new one."""


class AuraLink:
    """The aura session of one reply (:data:`SpareKey` ``key``), opened on first use."""

    def __init__(self, client: WorkersAIClient, spares: SpareSockets | None, key: SpareKey) -> None:
        self._client = client
        self._spares = spares
        self.key = key
        self._session: SpeakSession | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._last = 0.0
        self.sessions = 0
        """Sessions this reply used (a reopen adds one)."""

    async def _live_session(self) -> SpeakSession:
        session = self._session
        if session is not None and not session.closed:
            if time.monotonic() - self._last < IDLE_REOPEN_S:
                return session
            _LOGGER.debug("%s idle for %s s: a new WebSocket", self.key[0], IDLE_REOPEN_S)
        await self.aclose()
        spare = await self._spares.take(self.key) if self._spares is not None else None
        if spare is not None:
            self._stack, session = spare.stack, spare.session
        else:
            self._stack = contextlib.AsyncExitStack()
            model_id, speaker, rate = self.key
            session = await self._stack.enter_async_context(
                self._client.speak(model_id, speaker=speaker, sample_rate=rate)
            )
        self._session = session
        self.sessions += 1
        return session

    async def speak(self, text: str) -> AsyncIterator[bytes]:
        """The PCM of ``text`` (mono s16le at the key's rate), frame by frame.

        Raises:
            WorkersAIError: Workers AI failed (a session closed before any audio of ``text``
                is retried once on a new one).
        """
        for retry in (False, True):
            session = await self._live_session()
            heard = False
            try:
                await session.send_text(text)
                # One request's timeout, not the whole DEADLINE: closing the WebSocket (up to
                # 1 s when Workers AI does not answer) comes before the user's error.
                async for pcm in session.flushed_audio(timeout=REQUEST_TIMEOUT):
                    heard = True
                    yield pcm
            except StreamClosedError:
                if heard or retry:
                    raise
                _LOGGER.debug("%s WebSocket closed before audio: a new one", self.key[0])
                await self.aclose()
                continue
            finally:
                self._last = time.monotonic()
            return

    async def aclose(self) -> None:
        """Close the session (idempotent)."""
        stack, self._stack, self._session = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()
