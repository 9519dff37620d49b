"""Repair issues: a spent daily allocation, and services whose model this version lacks."""

from typing import Any

import probatio

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.const import CONF_MODEL
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from wyoming_server.workers_ai import catalog

from .const import DOMAIN, ISSUE_QUOTA_EXCEEDED, SUBENTRY_STT
from .entity import model_label
from .subentry_flow import DEFAULT_TITLE_PREFIX, default_title, service_data

PRICING_URL = "https://developers.cloudflare.com/workers-ai/platform/pricing/"
"""The free allocation (10,000 neurons a day, reset at 00:00 UTC) and the Workers Paid plan."""


@callback
def async_report_quota_exceeded(hass: HomeAssistant) -> None:
    """Tell the user that the daily free allocation is used up until 00:00 UTC."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        ISSUE_QUOTA_EXCEEDED,
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.ERROR,
        learn_more_url=PRICING_URL,
        translation_key=ISSUE_QUOTA_EXCEEDED,
        translation_placeholders={"reset": "00:00 UTC"},
    )


@callback
def async_clear_quota_exceeded(hass: HomeAssistant) -> None:
    """A request succeeded: the allocation is back (a new day, or a paid plan)."""
    ir.async_delete_issue(hass, DOMAIN, ISSUE_QUOTA_EXCEEDED)


class UnknownModelRepairFlow(RepairsFlow):
    """Pick a model this version offers for a service whose model it does not know."""

    def __init__(self, entry_id: str, subentry_id: str) -> None:
        """Fix the service ``subentry_id`` of the entry ``entry_id``."""
        super().__init__()
        self._entry_id = entry_id
        self._subentry_id = subentry_id

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Offer the models of the service's kind; store the chosen one."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or self._subentry_id not in entry.subentries:
            return self.async_abort(reason="service_removed")
        subentry = entry.subentries[self._subentry_id]
        task = catalog.Task.ASR if subentry.subentry_type == SUBENTRY_STT else catalog.Task.TTS
        models = [m for m in catalog.MODELS.values() if m.task is task]
        # The flow starts with the issue's data as input (repairs/issue_handler.py).
        if user_input and CONF_MODEL in user_input:
            model = catalog.get_model(user_input[CONF_MODEL])
            title = subentry.title
            if title.startswith(DEFAULT_TITLE_PREFIX):
                title = default_title(model)
            self.hass.config_entries.async_update_subentry(
                entry,
                subentry,
                title=title,
                data=service_data(self.hass, subentry.subentry_type, model, dict(subentry.data)),
            )
            return self.async_create_entry(data={})
        schema = probatio.Schema(
            {
                probatio.Required(CONF_MODEL, default=models[0].model_id): SelectSelector(
                    SelectSelectorConfig(
                        options=[
                            SelectOptionDict(value=m.model_id, label=model_label(m)) for m in models
                        ],
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                )
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=schema,
            description_placeholders={
                "service": subentry.title,
                "model": str(subentry.data.get(CONF_MODEL)),
            },
        )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """The fix flow of an ``unknown_model_<subentry>`` issue."""
    assert data is not None  # every fixable issue of this integration has data
    return UnknownModelRepairFlow(str(data["entry_id"]), str(data["subentry_id"]))
