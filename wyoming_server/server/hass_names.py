"""Names of a Home Assistant for the vocabulary, read over its WebSocket API.

What Assist can be asked about: the entities exposed to the ``conversation`` assistant
(``homeassistant/expose_entity/list``) with their friendly names (``get_states``) and aliases
(``config/entity_registry/get_entries``), and all areas and floors with their aliases
(``config/area_registry/list``, ``config/floor_registry/list``). Sources:
https://developers.home-assistant.io/docs/api/websocket/ and Home Assistant's
``homeassistant/components/homeassistant/exposed_entities.py`` and
``homeassistant/components/config/{entity,area,floor}_registry.py``.

The names are read at start, again when a registry changes (``entity_registry_updated``,
``area_registry_updated``, ``floor_registry_updated`` events) and every ``refresh_seconds``
(exposure changes send no event). A lost connection is retried with backoff; the last names
stay in use meanwhile. As a Home Assistant add-on (``homeassistant_api: true``) the Supervisor
gives ``SUPERVISOR_TOKEN`` and proxies Core at ``http://supervisor/core``
(https://developers.home-assistant.io/docs/add-ons/communication/).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from ..workers_ai.vocabulary import Source, Term

_LOGGER = logging.getLogger(__name__)

SUPERVISOR_CORE_URL = "http://supervisor/core"
REGISTRY_EVENTS = ("entity_registry_updated", "area_registry_updated", "floor_registry_updated")
COMMAND_TIMEOUT = 10.0
"""Seconds one WebSocket command may take."""
DEBOUNCE_SECONDS = 2.0
"""Registry events within this many seconds cause one refresh."""


class HomeAssistantError(Exception):
    """Home Assistant refused the token or a command failed."""


def websocket_url(base_url: str) -> str:
    """``http(s)://host:8123`` → ``ws(s)://host:8123/api/websocket``."""
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    elif base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    return f"{base}/api/websocket"


def _strings(values: Any) -> list[str]:
    return (
        [v for v in values if isinstance(v, str) and v.strip()] if isinstance(values, list) else []
    )


def terms_from_home(
    exposed: Mapping[str, Any],
    states: list[Any],
    entries: Mapping[str, Any],
    areas: list[Any],
    floors: list[Any],
) -> tuple[Term, ...]:
    """The terms of the answers of the five commands (module docstring), in source order."""
    conversation = {
        entity_id
        for entity_id, assistants in exposed.items()
        if isinstance(assistants, Mapping) and assistants.get("conversation")
    }
    terms: list[Term] = []
    for items, source in ((areas, Source.AREA), (floors, Source.FLOOR)):
        for item in items:
            if isinstance(item, Mapping):
                names = [item.get("name"), *_strings(item.get("aliases"))]
                terms += [Term(name, source) for name in names if isinstance(name, str)]
    for state in states:
        if not isinstance(state, Mapping) or state.get("entity_id") not in conversation:
            continue
        attributes = state.get("attributes")
        name = attributes.get("friendly_name") if isinstance(attributes, Mapping) else None
        if isinstance(name, str):
            terms.append(Term(name, Source.ENTITY))
    for entity_id in sorted(conversation):
        entry = entries.get(entity_id)
        if isinstance(entry, Mapping):
            terms += [Term(alias, Source.ALIAS) for alias in _strings(entry.get("aliases"))]
    return tuple(terms)


class _Connection:
    """One authenticated WebSocket connection: numbered commands, results and events."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self.events: asyncio.Queue[str] = asyncio.Queue()

    async def authenticate(self, token: str) -> None:
        first = await self.ws.receive_json(timeout=COMMAND_TIMEOUT)
        if first.get("type") != "auth_required":
            raise HomeAssistantError(f"unexpected first message {first.get('type')!r}")
        await self.ws.send_json({"type": "auth", "access_token": token})
        answer = await self.ws.receive_json(timeout=COMMAND_TIMEOUT)
        if answer.get("type") != "auth_ok":
            raise HomeAssistantError("Home Assistant refused the access token")

    async def read(self) -> None:
        """Dispatch results and events until the connection closes."""
        try:
            async for message in self.ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                data = message.json()
                for item in data if isinstance(data, list) else [data]:
                    self._dispatch(item)
        finally:
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("Home Assistant closed the connection"))

    def _dispatch(self, item: Any) -> None:
        if not isinstance(item, Mapping):
            return
        if item.get("type") == "event":
            event = item.get("event")
            if isinstance(event, Mapping):
                self.events.put_nowait(str(event.get("event_type")))
            return
        future = self._waiting.pop(item.get("id"), None)  # type: ignore[arg-type]
        if future is None or future.done():
            return
        if item.get("success"):
            future.set_result(item.get("result"))
        else:
            error = item.get("error")
            message = error.get("message") if isinstance(error, Mapping) else error
            future.set_exception(HomeAssistantError(f"command failed: {message}"))

    async def command(self, message: dict[str, Any]) -> Any:
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        await self.ws.send_json({**message, "id": ident})
        async with asyncio.timeout(COMMAND_TIMEOUT):
            return await future


class HomeAssistantNames:
    """Keeps :attr:`terms` up to date from a Home Assistant (see module docstring)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        token: str,
        *,
        refresh_seconds: float = 300.0,
        retry_seconds: float = 30.0,
    ) -> None:
        self._session = session
        self.url = websocket_url(url)
        self._token = token
        self.refresh_seconds = refresh_seconds
        self.retry_seconds = retry_seconds
        self.terms: tuple[Term, ...] = ()
        """The names now (replaced as a whole on each refresh)."""
        self.loaded = asyncio.Event()
        """Set after the first successful read."""
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:  # the token stays out of logs
        return f"HomeAssistantNames(url={self.url!r})"

    def current(self) -> tuple[Term, ...]:
        """The names now (for :class:`~.vocabulary.ServerVocabulary`)."""
        return self.terms

    def start(self) -> None:
        """Start reading in the background."""
        self._task = asyncio.create_task(self._run(), name="Home Assistant names")

    async def aclose(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._session_once()
            except (aiohttp.ClientError, OSError, TimeoutError, HomeAssistantError) as err:
                _LOGGER.warning("Home Assistant names (%s): %s", self.url, err)
            except ValueError as err:  # not JSON
                _LOGGER.warning("Home Assistant names (%s): bad answer: %s", self.url, err)
            except Exception:  # keep the names task alive whatever Home Assistant answers
                _LOGGER.exception("Home Assistant names (%s) failed", self.url)
            await asyncio.sleep(self.retry_seconds)

    async def _session_once(self) -> None:
        async with self._session.ws_connect(self.url, heartbeat=30.0) as ws:
            connection = _Connection(ws)
            await connection.authenticate(self._token)
            reader = asyncio.create_task(connection.read())
            try:
                for event_type in REGISTRY_EVENTS:
                    await connection.command({"type": "subscribe_events", "event_type": event_type})
                while True:
                    await self._refresh(connection)
                    await self._wait_for_change(connection, reader)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    async def _wait_for_change(self, connection: _Connection, reader: asyncio.Task[None]) -> None:
        """Return after a registry event (debounced) or ``refresh_seconds``; raise when the
        connection closed."""
        event = asyncio.ensure_future(connection.events.get())
        try:
            done, _ = await asyncio.wait(
                {event, reader}, timeout=self.refresh_seconds, return_when="FIRST_COMPLETED"
            )
        finally:
            event.cancel()
        if reader in done:
            raise ConnectionError("Home Assistant closed the connection")
        if event in done:
            await asyncio.sleep(DEBOUNCE_SECONDS)
            while not connection.events.empty():
                connection.events.get_nowait()

    async def _refresh(self, connection: _Connection) -> None:
        exposed = await connection.command({"type": "homeassistant/expose_entity/list"})
        exposed_entities = (
            exposed.get("exposed_entities", {}) if isinstance(exposed, Mapping) else {}
        )
        ids = [
            entity_id
            for entity_id, assistants in exposed_entities.items()
            if isinstance(assistants, Mapping) and assistants.get("conversation")
        ]
        entries = (
            await connection.command(
                {"type": "config/entity_registry/get_entries", "entity_ids": ids}
            )
            if ids
            else {}
        )
        states = await connection.command({"type": "get_states"})
        areas = await connection.command({"type": "config/area_registry/list"})
        floors = await connection.command({"type": "config/floor_registry/list"})
        terms = terms_from_home(
            exposed_entities,
            states if isinstance(states, list) else [],
            entries if isinstance(entries, Mapping) else {},
            areas if isinstance(areas, list) else [],
            floors if isinstance(floors, list) else [],
        )
        if terms != self.terms:
            _LOGGER.info("Home Assistant names: %d terms", len(terms))
            self.terms = terms
        self.loaded.set()
