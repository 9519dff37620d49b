"""Diagnostics for Workers AI Speech: tokens, the account ID and URLs that contain it redacted."""

from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_API_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import CONF_ACCOUNT_ID, CONF_API_BASE_URL, CONF_GATEWAY_TOKEN, DOMAIN
from .models import WorkersAIConfigEntry

TO_REDACT = {CONF_API_TOKEN, CONF_GATEWAY_TOKEN, CONF_ACCOUNT_ID, CONF_API_BASE_URL, "unique_id"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: WorkersAIConfigEntry
) -> dict[str, Any]:
    """Return the entry's diagnostics.

    Its settings, its services, this integration's open repair issues, the home's vocabulary
    (the names sent to the speech-to-text models) and each service's circuit breaker (by
    subentry ID; failover.py).

    A custom API base URL is redacted (an AI Gateway URL contains the account ID); whether
    one is set, and whether it is an AI Gateway, is kept.
    """
    base_url = entry.data.get(CONF_API_BASE_URL)
    runtime = getattr(entry, "runtime_data", None)
    return {
        "entry": async_redact_data(
            {"title": entry.title, "data": dict(entry.data), "unique_id": entry.unique_id},
            TO_REDACT,
        ),
        "api_base_url": {
            "custom": base_url is not None,
            "ai_gateway": bool(base_url and base_url.rstrip("/").endswith("/workers-ai")),
        },
        "subentries": [
            {
                "subentry_id": subentry.subentry_id,
                "subentry_type": subentry.subentry_type,
                "title": subentry.title,
                "data": dict(subentry.data),
            }
            for subentry in entry.subentries.values()
        ],
        "issues": sorted(
            issue_id for (domain, issue_id) in ir.async_get(hass).issues if domain == DOMAIN
        ),
        "vocabulary": runtime.vocabulary.as_dict() if runtime and runtime.vocabulary else None,
        "breakers": {
            subentry_id: _redact_text(failover.as_diagnostics(), entry)
            for subentry_id, failover in (runtime.failovers if runtime else {}).items()
        },
    }


def _redact_text(data: dict[str, object], entry: WorkersAIConfigEntry) -> dict[str, object]:
    """Cut the entry's secrets (token, account ID, base URL) out of the strings of ``data``.

    An error message may quote a URL that contains the account ID.
    """
    secrets = [
        value
        for key in TO_REDACT
        if isinstance(value := entry.data.get(key), str) and len(value) >= 4
    ]
    secrets.sort(key=len, reverse=True)

    def redact(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        return text

    return {key: redact(value) if isinstance(value, str) else value for key, value in data.items()}
