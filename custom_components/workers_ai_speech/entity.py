"""Base entity: one device per speech-service subentry."""

from homeassistant.config_entries import ConfigSubentry
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity

from wyoming_server.workers_ai import catalog

from .const import CONF_MODEL, DOMAIN, MANUFACTURER
from .models import WorkersAIConfigEntry


class WorkersAIEntity(Entity):
    """An entity of a ``stt`` or ``tts`` subentry, attached to the subentry's service device."""

    _attr_has_entity_name = True

    def __init__(self, entry: WorkersAIConfigEntry, subentry: ConfigSubentry) -> None:
        """Describe the subentry's device; ``model`` is its Workers AI catalog entry."""
        self.entry = entry
        self.subentry = subentry
        self.model = catalog.get_model(subentry.data[CONF_MODEL])
        self._attr_unique_id = subentry.subentry_id
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, subentry.subentry_id)},
            name=subentry.title,
            manufacturer=MANUFACTURER,
            model=f"{self.model.display_name} ({self.model.vendor})",
            model_id=self.model.model_id,
            entry_type=DeviceEntryType.SERVICE,
        )
