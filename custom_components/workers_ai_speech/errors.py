"""What a Workers AI error means for Home Assistant: log, reauth, repair issue, HA error."""

import logging

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError

from wyoming_server.workers_ai.errors import (
    AccountNotAllowedError,
    AuthenticationError,
    PaidPlanRequiredError,
    QuotaExceededError,
    WorkersAIError,
)

from .const import DOMAIN
from .models import WorkersAIConfigEntry
from .repairs import async_report_quota_exceeded

_LOGGER = logging.getLogger(__package__)


@callback
def async_handle_error(
    hass: HomeAssistant, entry: WorkersAIConfigEntry, err: WorkersAIError, what: str
) -> HomeAssistantError:
    """Log ``err`` and return the translated error to raise.

    A rejected token (10000) starts re-authentication; a spent daily allocation (4006/3036)
    raises the ``quota_exceeded`` repair issue; a model that needs the Workers Paid plan
    (5035) is said so, without re-authentication (the token is fine); so is an account or
    model Cloudflare refuses to the account (3023, 5018, 3041, 5016), which no new token fixes.
    """
    _LOGGER.error("%s failed: %s", what, err)
    if isinstance(err, AuthenticationError):
        entry.async_start_reauth(hass)
    if isinstance(err, QuotaExceededError):
        async_report_quota_exceeded(hass)
        return HomeAssistantError(translation_domain=DOMAIN, translation_key="quota_exceeded")
    if isinstance(err, PaidPlanRequiredError):
        return HomeAssistantError(translation_domain=DOMAIN, translation_key="paid_plan_required")
    if isinstance(err, AccountNotAllowedError):
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="account_not_allowed",
            translation_placeholders={"what": what, "error": str(err)},
        )
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="request_failed",
        translation_placeholders={"what": what, "error": str(err)},
    )
