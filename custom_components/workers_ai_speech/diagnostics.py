"""Diagnostics for Workers AI Speech (the API token is redacted)."""

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_API_BASE_URL, CONF_API_TOKEN, DEFAULT_API_BASE_URL
from .models import WorkersAIConfigEntry

TO_REDACT = {CONF_API_TOKEN}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: WorkersAIConfigEntry
) -> dict[str, Any]:
    """Return the entry, its subentries and the voices chosen with the select entities."""
    runtime = getattr(entry, "runtime_data", None)
    return {
        "entry": async_redact_data(
            {
                "title": entry.title,
                "data": dict(entry.data),
                "api_base_url": entry.data.get(CONF_API_BASE_URL, DEFAULT_API_BASE_URL),
            },
            TO_REDACT,
        ),
        "subentries": [
            {
                "subentry_id": subentry.subentry_id,
                "subentry_type": subentry.subentry_type,
                "title": subentry.title,
                "data": async_redact_data(dict(subentry.data), TO_REDACT),
            }
            for subentry in entry.subentries.values()
        ],
        "selected_voices": dict(runtime.selected_voices) if runtime else {},
        "vocabulary": runtime.vocabulary.as_dict() if runtime and runtime.vocabulary else None,
    }
