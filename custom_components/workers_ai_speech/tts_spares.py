"""Spare aura WebSockets: one opened ahead of the reply that will need it.

Opening an aura WebSocket costs a TCP + TLS connection and the upgrade (about three network
round trips), all on the path to a reply's first audio. So each aura service keeps at most one
open, unused session for the voice and sample rate of its last reply, opened after that reply
and opened again whenever it expires, for :data:`WARM_S` seconds after the last reply. A spare
nobody takes within :data:`SPARE_IDLE_S` seconds is closed: Deepgram documents no idle timeout
for speak v1 and no ``KeepAlive`` for it (``KeepAlive`` is a listen message:
https://developers.deepgram.com/docs/audio-keep-alive), so a spare is never held near the
~10 s after which Deepgram closes idle listen streams. An idle WebSocket costs no neurons (aura
is billed per character: https://developers.cloudflare.com/workers-ai/platform/pricing/).
The config entry owns the spares (runtime_data) and closes them on unload.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Final

from homeassistant.core import HomeAssistant, callback

from wyoming_server.workers_ai import WorkersAIClient
from wyoming_server.workers_ai.errors import WorkersAIError
from wyoming_server.workers_ai.speak import SpeakSession

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

SPARE_IDLE_S: Final = 8.0
"""Seconds an unused spare stays open before it is closed (and opened again)."""
WARM_S: Final = 300.0
"""Seconds after the last reply during which an expired spare is opened again."""
OPEN_TIMEOUT_S: Final = 10.0
"""Seconds a spare may take to open."""
OPEN_AHEAD = True
"""Whether spares are opened at all (tests of injected connect faults turn it off)."""

type SpareKey = tuple[str, str, int]
"""(model ID, speaker, sample rate in Hz)."""


@dataclass
class Spare:
    """An aura session opened in advance, with the stack that closes it."""

    session: SpeakSession
    stack: contextlib.AsyncExitStack

    async def aclose(self) -> None:
        """Close the session (idempotent)."""
        with contextlib.suppress(Exception):
            await self.stack.aclose()


class SpareSockets:
    """At most one spare :class:`SpeakSession` per :data:`SpareKey` of one client."""

    def __init__(self, hass: HomeAssistant, client: WorkersAIClient) -> None:
        self.hass = hass
        self.client = client
        self._opening: dict[SpareKey, asyncio.Task[Spare | None]] = {}
        self._expiry: dict[SpareKey, asyncio.TimerHandle] = {}
        self._wanted: dict[SpareKey, float] = {}  # last reply of each key (monotonic s)
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False
        self.opened = 0
        """Spares opened so far."""
        self.taken = 0
        """Spares taken by a reply so far."""

    @callback
    def prepare(self, key: SpareKey) -> None:
        """Open a spare for ``key`` unless one is open or opening; keep it warm for
        :data:`WARM_S` s."""
        if self._closed or not OPEN_AHEAD:
            return
        self._wanted[key] = time.monotonic()
        task = self._opening.get(key)
        if task is not None and not _unusable(task):
            return
        self._opening[key] = self.hass.async_create_background_task(
            self._open(key), f"{DOMAIN} spare aura WebSocket {key[0]}"
        )

    async def _open(self, key: SpareKey) -> Spare | None:
        stack = contextlib.AsyncExitStack()
        try:
            async with asyncio.timeout(OPEN_TIMEOUT_S):
                session = await stack.enter_async_context(
                    self.client.speak(key[0], speaker=key[1], sample_rate=key[2])
                )
        except (WorkersAIError, TimeoutError) as err:
            _LOGGER.debug("No spare %s WebSocket: %s", key[0], err)
            await stack.aclose()
            return None
        except asyncio.CancelledError:
            await stack.aclose()
            raise
        self.opened += 1
        self._expiry[key] = self.hass.loop.call_later(SPARE_IDLE_S, self._expire, key)
        return Spare(session, stack)

    @callback
    def _expire(self, key: SpareKey) -> None:
        self._expiry.pop(key, None)
        task = self._opening.pop(key, None)
        spare = task.result() if task is not None and task.done() and not task.cancelled() else None
        if spare is not None:
            self._close_later(spare)
        if time.monotonic() - self._wanted.get(key, 0.0) < WARM_S:
            wanted = self._wanted[key]
            self.prepare(key)
            self._wanted[key] = wanted  # an expiry is no reply: the window does not move

    def _close_later(self, spare: Spare) -> None:
        closing = self.hass.async_create_background_task(spare.aclose(), f"{DOMAIN} spare close")
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def take(self, key: SpareKey) -> Spare | None:
        """The spare for ``key``, waiting for one still opening; ``None`` if there is none or
        it closed meanwhile (then the caller connects itself). The caller owns it."""
        task = self._opening.pop(key, None)
        if (expiry := self._expiry.pop(key, None)) is not None:
            expiry.cancel()
        if task is None:
            return None
        spare = await asyncio.shield(task)
        if spare is None:
            return None
        if spare.session.closed:
            await spare.aclose()
            return None
        self.taken += 1
        return spare

    async def async_close(self) -> None:
        """Close every spare and stop opening new ones (the entry is unloaded)."""
        self._closed = True
        for expiry in self._expiry.values():
            expiry.cancel()
        self._expiry.clear()
        tasks = list(self._opening.values())
        self._opening.clear()
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Spare):
                await result.aclose()
        await asyncio.gather(*self._closing, return_exceptions=True)


def _unusable(task: asyncio.Task[Spare | None]) -> bool:
    """A finished opening that gave no usable spare."""
    if not task.done():
        return False
    if task.cancelled():
        return True
    spare = task.result()
    return spare is None or spare.session.closed
