"""Actions of the Workers AI Speech integration.

``workers_ai_speech.run_check``: call every Workers AI speech model over every transport once
with the entry's credentials (the same check as ``wyoming-workers-ai doctor``) and return the
report as response data. It spends neurons (a few hundred at most), so it is an action the user
runs, not part of diagnostics.
"""

import probatio

from homeassistant.const import CONF_API_TOKEN
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import service

from wyoming_server import __version__
from wyoming_server.doctor.checks import run_doctor

from .const import (
    CONF_ACCOUNT_ID,
    CONF_API_BASE_URL,
    CONF_GATEWAY_TOKEN,
    DEFAULT_API_BASE_URL,
    DOMAIN,
)

SERVICE_RUN_CHECK = "run_check"
ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_MODELS = "models"
ATTR_UNDOCUMENTED = "undocumented"

RUN_CHECK_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Optional(ATTR_MODELS, default=list): probatio.All(cv.ensure_list, [cv.string]),
        probatio.Optional(ATTR_UNDOCUMENTED, default=False): cv.boolean,
    }
)


async def _async_run_check(call: ServiceCall) -> ServiceResponse:
    """Run the check for one loaded config entry and return the report.

    Raises:
        ServiceValidationError: unknown, foreign or unloaded entry; unknown model.
    """
    entry = service.async_get_config_entry(call.hass, DOMAIN, call.data[ATTR_CONFIG_ENTRY_ID])
    try:
        report = await run_doctor(
            entry.data[CONF_ACCOUNT_ID],
            entry.data[CONF_API_TOKEN],
            api_base_url=entry.data.get(CONF_API_BASE_URL) or DEFAULT_API_BASE_URL,
            models=call.data[ATTR_MODELS],
            undocumented=call.data[ATTR_UNDOCUMENTED],
            version=__version__,
            gateway_token=entry.data.get(CONF_GATEWAY_TOKEN) or None,
        )
    except KeyError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_model",
            translation_placeholders={"model": str(err.args[0])},
        ) from err
    return report.as_dict()


def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions (once, from ``async_setup``)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_RUN_CHECK,
        _async_run_check,
        schema=RUN_CHECK_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
