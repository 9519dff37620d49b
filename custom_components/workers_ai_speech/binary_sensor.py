"""A "Degraded" binary sensor per speech service: on while its circuit breaker is not closed.

On means Workers AI failed often enough that requests go to the service's failover entity (or
fail at once without one) until a probe request succeeds (failover.py).
"""

from collections.abc import Mapping
from typing import Any, override

from homeassistant.components.binary_sensor import (  # type: ignore[attr-defined]
    BinarySensorDeviceClass,
    BinarySensorEntity,
)
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from wyoming_server.workers_ai import catalog

from .entity import WorkersAIEntity, subentry_model
from .failover import SIGNAL_BREAKER_CHANGED, ServiceFailover
from .models import WorkersAIConfigEntry

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WorkersAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one "Degraded" sensor per speech service."""
    for subentry_id, failover in entry.runtime_data.failovers.items():
        subentry = entry.subentries[subentry_id]
        if model := subentry_model(subentry):
            async_add_entities(
                [DegradedBinarySensor(entry, subentry, model, failover)],
                config_subentry_id=subentry_id,
            )


class DegradedBinarySensor(WorkersAIEntity, BinarySensorEntity):
    """On while the service's breaker is open or half-open (Workers AI not answering)."""

    _attr_device_class = BinarySensorDeviceClass.PROBLEM
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_translation_key = "degraded"
    _attr_should_poll = False

    def __init__(
        self,
        entry: WorkersAIConfigEntry,
        subentry: ConfigSubentry,
        model: catalog.SpeechModel,
        failover: ServiceFailover,
    ) -> None:
        """Follow ``failover``'s breaker."""
        super().__init__(entry, subentry, model)
        self._attr_unique_id = f"{subentry.subentry_id}-degraded"
        self._failover = failover

    @property
    @override
    def is_on(self) -> bool:
        """Whether the breaker is not closed."""
        return self._failover.degraded

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any]:
        """Describe the breaker.

        State (closed, open, half_open), failures counted toward opening it, times opened since
        setup, the last failure, and the failover entity (None: none).
        """
        snapshot = self._failover.breaker.snapshot()
        return {
            "state": snapshot["state"],
            "failures": snapshot["failures_in_window"],
            "times_opened": snapshot["times_opened"],
            "last_failure": snapshot["last_failure"],
            "failover_entity": self._failover.entity_id,
        }

    @override
    async def async_added_to_hass(self) -> None:
        """Update on every change of the breaker."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                SIGNAL_BREAKER_CHANGED.format(self._failover.subentry_id),
                self.async_write_ha_state,
            )
        )
