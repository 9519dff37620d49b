"""Spare aura WebSockets: one opened ahead of the reply that will need it.

Opening an aura WebSocket costs a new TCP + TLS connection and the upgrade: about three network
round trips (~180 ms at a 60 ms RTT), and Home Assistant sends ``synthesize-start`` together with
the first sentence, so opening it then puts all three on the path to the first audio. The server
therefore keeps at most one open, unused session per voice, opened when a reply becomes likely:
once a voice command's ``transcript`` is sent (for the default voice; not earlier, so that the
speech-to-text request's own calls come first) and after each streamed reply (for its voice:
conversations continue). A spare nobody takes within
:data:`SPARE_IDLE_S` seconds is closed. An idle WebSocket costs no neurons (aura is billed per
character: https://developers.cloudflare.com/workers-ai/platform/pricing/).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from dataclasses import dataclass, field
from typing import Final

from ..workers_ai import WorkersAIClient, catalog
from ..workers_ai.errors import WorkersAIError
from ..workers_ai.speak import SpeakSession
from .settings import TTS_WEBSOCKET_SAMPLE_RATE_HZ

_LOGGER = logging.getLogger(__name__)

SPARE_IDLE_S: Final = 8.0
"""Seconds an unused spare stays open (Deepgram closes idle streams after about 10 s)."""

OPEN_TIMEOUT_S: Final = 10.0
"""Seconds a spare may take to open."""


@dataclass
class Spare:
    """An aura session opened in advance, with the stack that closes it."""

    session: SpeakSession
    stack: contextlib.AsyncExitStack
    expiry: asyncio.TimerHandle | None = field(default=None, repr=False)

    async def aclose(self) -> None:
        """Close the session (idempotent)."""
        if self.expiry is not None:
            self.expiry.cancel()
        with contextlib.suppress(Exception):
            await self.stack.aclose()


class SpeakSpares:
    """At most one spare :class:`SpeakSession` per (model, speaker) for one client."""

    def __init__(self, client: WorkersAIClient) -> None:
        self.client = client
        self._opening: dict[tuple[str, str | None], asyncio.Task[Spare | None]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def prepare(self, voice: catalog.Voice) -> None:
        """Start opening a spare for ``voice`` unless one is open or opening (aura only)."""
        model = catalog.get_model(voice.model_id)
        if not model.websocket or model.task is not catalog.Task.TTS:
            return
        key = (voice.model_id, voice.speaker)
        task = self._opening.get(key)
        if task is not None and not _expired(task):
            return
        self._opening[key] = asyncio.create_task(self._open(key), name=f"spare {voice.name}")

    async def _open(self, key: tuple[str, str | None]) -> Spare | None:
        stack = contextlib.AsyncExitStack()
        try:
            async with asyncio.timeout(OPEN_TIMEOUT_S):
                session = await stack.enter_async_context(
                    self.client.speak(
                        key[0], speaker=key[1], sample_rate=TTS_WEBSOCKET_SAMPLE_RATE_HZ
                    )
                )
        except (WorkersAIError, TimeoutError) as err:
            _LOGGER.debug("No spare %s WebSocket: %s", key[0], err)
            await stack.aclose()
            return None
        spare = Spare(session, stack)
        spare.expiry = asyncio.get_running_loop().call_later(SPARE_IDLE_S, self._expire, key)
        return spare

    def _expire(self, key: tuple[str, str | None]) -> None:
        task = self._opening.get(key)
        if task is not None and task.done() and not task.cancelled():
            del self._opening[key]
            spare = task.result()
            if spare is not None:
                closing = asyncio.create_task(spare.aclose())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)

    async def take(self, voice: catalog.Voice) -> Spare | None:
        """The spare for ``voice``, waiting for one still opening; ``None`` if there is none
        or it closed meanwhile. The caller owns it (closes it with :meth:`Spare.aclose`)."""
        task = self._opening.pop((voice.model_id, voice.speaker), None)
        if task is None:
            return None
        try:
            spare = await task
        except asyncio.CancelledError:
            if task.cancelled():
                return None
            raise
        if spare is None:
            return None
        if spare.expiry is not None:
            spare.expiry.cancel()
        if spare.session.closed:
            await spare.aclose()
            return None
        return spare


def _expired(task: asyncio.Task[Spare | None]) -> bool:
    """A finished opening that gave no usable spare."""
    if not task.done():
        return False
    if task.cancelled():
        return True
    spare = task.result()
    return spare is None or spare.session.closed


_SPARES: weakref.WeakKeyDictionary[WorkersAIClient, SpeakSpares] = weakref.WeakKeyDictionary()


def spares_for(client: WorkersAIClient) -> SpeakSpares:
    """The spares of ``client`` (one set per client, made on first use)."""
    spares = _SPARES.get(client)
    if spares is None:
        spares = _SPARES[client] = SpeakSpares(client)
    return spares
