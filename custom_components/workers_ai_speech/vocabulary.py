"""The home's vocabulary for speech-to-text: names Assist can be asked about.

Built from the entities exposed to Assist (their names and aliases, as the conversation agent
resolves them: ``intent.async_get_entity_aliases``), every area and floor (names and aliases),
and the user's own terms (option ``vocabulary_terms``). nova-3 and flux get ``keyterm``s (at most
100, ~500 tokens, ranked and cut), whisper-large-v3-turbo an ``initial_prompt``
(``wyoming_server.workers_ai.vocabulary``).

Rebuilt when the entity, area or floor registry or the exposure settings change, and when an
entity's name changes; never per request. Option ``vocabulary`` (default on) turns it off.
Sources: Home Assistant's ``homeassistant/components/conversation/default_agent.py`` and
``homeassistant/components/homeassistant/exposed_entities.py``.
"""

import logging
from typing import Any

from homeassistant.components.homeassistant.exposed_entities import (
    async_listen_entity_updates,
    async_should_expose,
)
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import floor_registry as fr
from homeassistant.helpers import intent
from homeassistant.helpers.debounce import Debouncer

from wyoming_server.workers_ai.vocabulary import Source, Term, Vocabulary, build_vocabulary

_LOGGER = logging.getLogger(__name__)

CONF_VOCABULARY = "vocabulary"
"""Option: send the home's names to the models (default True)."""
CONF_VOCABULARY_TERMS = "vocabulary_terms"
"""Option: the user's own terms (a list of strings, ranked first)."""

ASSISTANT = "conversation"
REBUILD_COOLDOWN = 1.0
"""Seconds: changes in a burst (start-up, a renamed device's entities) cause one more build."""


def home_terms(hass: HomeAssistant, user_terms: list[str]) -> list[Term]:
    """The terms of the home now (see module docstring)."""
    terms = [Term(text, Source.USER) for text in user_terms if isinstance(text, str)]
    for area in ar.async_get(hass).async_list_areas():
        terms += [Term(area.name, Source.AREA), *(Term(a, Source.AREA) for a in area.aliases)]
    for floor in fr.async_get(hass).async_list_floors():
        terms += [Term(floor.name, Source.FLOOR), *(Term(a, Source.FLOOR) for a in floor.aliases)]
    registry = er.async_get(hass)
    for state in hass.states.async_all():
        try:
            exposed = async_should_expose(hass, ASSISTANT, state.entity_id)
        except KeyError:  # the homeassistant integration (exposure settings) is not loaded
            return terms
        if not exposed:
            continue
        names = intent.async_get_entity_aliases(
            hass, registry.async_get(state.entity_id), state=state
        )
        terms += [
            Term(name, Source.ENTITY if i == 0 else Source.ALIAS) for i, name in enumerate(names)
        ]
    return terms


class HomeVocabulary:
    """The current vocabulary of a config entry, kept up to date while the entry is loaded."""

    def __init__(self, hass: HomeAssistant, options: dict[str, Any]) -> None:
        """Read the options; call :meth:`async_start` to build and follow changes."""
        self.hass = hass
        self.enabled: bool = bool(options.get(CONF_VOCABULARY, True))
        self.user_terms: list[str] = list(options.get(CONF_VOCABULARY_TERMS) or [])
        self.current = Vocabulary()
        self.builds = 0
        self._debouncer = Debouncer(
            hass, _LOGGER, cooldown=REBUILD_COOLDOWN, immediate=True, function=self.async_rebuild
        )

    @callback
    def _async_changed(self, *_: Any) -> None:
        self._debouncer.async_schedule_call()

    @callback
    def async_rebuild(self) -> None:
        """Build the vocabulary from the registries now."""
        if not self.enabled:
            return
        self.current = build_vocabulary(home_terms(self.hass, self.user_terms))
        self.builds += 1
        _LOGGER.debug("Vocabulary: %d key terms", len(self.current.keyterms))

    @callback
    def _async_state_changed(self, event: Event[Any]) -> None:
        """An entity's name changed (or an entity appeared or went away)."""
        old, new = event.data.get("old_state"), event.data.get("new_state")
        if old is None or new is None or old.name != new.name:
            self._async_changed()

    @callback
    def async_start(self) -> list[Any]:
        """Build now and follow changes; returns the unsubscribe callbacks."""
        if not self.enabled:
            return []
        self.async_rebuild()
        bus = self.hass.bus
        unsubscribe = [
            self._debouncer.async_shutdown,
            bus.async_listen(er.EVENT_ENTITY_REGISTRY_UPDATED, self._async_changed),
            bus.async_listen(ar.EVENT_AREA_REGISTRY_UPDATED, self._async_changed),
            bus.async_listen(fr.EVENT_FLOOR_REGISTRY_UPDATED, self._async_changed),
            bus.async_listen(EVENT_STATE_CHANGED, self._async_state_changed),
        ]
        try:
            unsubscribe.append(
                async_listen_entity_updates(self.hass, ASSISTANT, self._async_changed)
            )
        except KeyError:
            _LOGGER.debug("Exposure settings not loaded: exposed entities are not followed")
        return unsubscribe

    def request_options(self, model_id: str) -> dict[str, Any]:
        """Keyword arguments for the client's STT calls (empty when turned off)."""
        return self.current.request_options(model_id) if self.enabled else {}

    def as_dict(self) -> dict[str, Any]:
        """Diagnostics."""
        return {"enabled": self.enabled, "user_terms": self.user_terms, **self.current.as_dict()}
