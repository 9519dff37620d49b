"""Cloudflare Workers AI speech models (speech-to-text and text-to-speech) for Home Assistant."""

import logging

from homeassistant.const import CONF_API_TOKEN, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_utc_time_change
from homeassistant.helpers.typing import ConfigType

from wyoming_server.workers_ai import WorkersAIClient
from wyoming_server.workers_ai.errors import (
    AccountNotFoundError,
    AuthenticationError,
    QuotaExceededError,
    WorkersAIError,
)
from wyoming_server.workers_ai.usage import UsageMeter

from .budget import BudgetGuard
from .const import (
    CONF_ACCOUNT_ID,
    CONF_API_BASE_URL,
    CONF_GATEWAY_TOKEN,
    CONNECT_TIMEOUT,
    DEADLINE,
    DEFAULT_API_BASE_URL,
    DOMAIN,
    ISSUE_UNKNOWN_MODEL,
    LONG_TEXT_DEADLINE,
    LONG_TEXT_REQUEST_TIMEOUT,
    REQUEST_TIMEOUT,
    SIGNAL_VOICE_CHANGED,
    SUBENTRY_TTS,
    TTS_WEBSOCKET_SAMPLE_RATE,
)
from .entity import stored_voice, subentry_model
from .failover import async_setup_failovers
from .migration import async_migrate_entry
from .models import WorkersAIConfigEntry, WorkersAIData, setup_key
from .repairs import async_report_quota_exceeded
from .services import async_setup_services
from .tts_spares import SpareSockets
from .usage import AccountUsage
from .vocabulary import HomeVocabulary

__all__ = ["async_migrate_entry", "async_setup", "async_setup_entry", "async_unload_entry"]

_LOGGER = logging.getLogger(__name__)

PLATFORMS = [Platform.BINARY_SENSOR, Platform.SELECT, Platform.SENSOR, Platform.STT, Platform.TTS]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions (services.py)."""
    async_setup_services(hass)
    return True


def create_client(
    hass: HomeAssistant,
    data: dict[str, str],
    *,
    request_timeout: float = REQUEST_TIMEOUT,
    deadline: float = DEADLINE,
) -> WorkersAIClient:
    """A client on Home Assistant's shared session (voice-path time budgets by default)."""
    return WorkersAIClient(
        async_get_clientsession(hass),
        data[CONF_ACCOUNT_ID],
        data[CONF_API_TOKEN],
        api_base_url=data.get(CONF_API_BASE_URL) or DEFAULT_API_BASE_URL,
        gateway_token=data.get(CONF_GATEWAY_TOKEN) or None,
        connect_timeout=CONNECT_TIMEOUT,
        request_timeout=request_timeout,
        deadline=deadline,
    )


async def async_setup_entry(hass: HomeAssistant, entry: WorkersAIConfigEntry) -> bool:
    """Check the account with a real Workers AI call, then set up the speech platforms.

    Raises:
        ConfigEntryAuthFailed: the API token was rejected (starts re-authentication).
        ConfigEntryError: the account ID does not exist.
        ConfigEntryNotReady: Workers AI could not be reached (Home Assistant retries).
    """
    client = create_client(hass, dict(entry.data))
    try:
        await client.verify()
    except AuthenticationError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="invalid_auth"
        ) from err
    except AccountNotFoundError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN, translation_key="invalid_account"
        ) from err
    except QuotaExceededError as err:
        async_report_quota_exceeded(hass)
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="quota_exceeded"
        ) from err
    except WorkersAIError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"error": str(err)},
        ) from err

    _async_check_models(hass, entry)
    client.usage = UsageMeter()
    long_text_client = create_client(
        hass,
        dict(entry.data),
        request_timeout=LONG_TEXT_REQUEST_TIMEOUT,
        deadline=LONG_TEXT_DEADLINE,
    )
    long_text_client.usage = client.usage  # one meter per account
    usage = AccountUsage()
    entry.async_on_unload(usage.async_attach(client.usage))
    entry.async_on_unload(
        async_track_utc_time_change(hass, usage.async_midnight, hour=0, minute=0, second=0)
    )
    vocabulary = HomeVocabulary(hass, dict(entry.options))
    for unsubscribe in vocabulary.async_start():
        entry.async_on_unload(unsubscribe)
    budget = BudgetGuard(hass, entry.entry_id, entry.title, usage, dict(entry.options))
    entry.async_on_unload(usage.async_add_listener(budget.async_update_issue))
    entry.runtime_data = WorkersAIData(
        client=client,
        long_text_client=long_text_client,
        setup_key=setup_key(entry),
        vocabulary=vocabulary,
        usage=usage,
        budget=budget,
        failovers=async_setup_failovers(hass, entry),
        spares=(spares := SpareSockets(hass, client)),
    )
    entry.async_on_unload(spares.async_close)
    _async_prepare_spares(entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    return True


def _async_check_models(hass: HomeAssistant, entry: WorkersAIConfigEntry) -> None:
    """Raise a repair issue for each subentry whose model this version does not know."""
    for subentry in entry.subentries.values():
        issue_id = ISSUE_UNKNOWN_MODEL.format(subentry.subentry_id)
        if subentry_model(subentry) is not None:
            ir.async_delete_issue(hass, DOMAIN, issue_id)
            continue
        _LOGGER.warning(
            "Service %r uses model %r, which Workers AI Speech does not offer (any more)",
            subentry.title,
            subentry.data.get("model"),
        )
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="unknown_model",
            translation_placeholders={
                "service": subentry.title,
                "model": str(subentry.data.get("model")),
            },
            data={"entry_id": entry.entry_id, "subentry_id": subentry.subentry_id},
        )


@callback
def _async_prepare_spares(entry: WorkersAIConfigEntry) -> None:
    """A spare aura WebSocket for each aura service's stored voice (tts_spares.py)."""
    spares = entry.runtime_data.spares
    assert spares is not None
    for subentry in entry.subentries.values():
        model = subentry_model(subentry)
        if subentry.subentry_type == SUBENTRY_TTS and model is not None and model.websocket:
            voice = stored_voice(entry, subentry.subentry_id, model)
            spares.prepare((model.model_id, voice, TTS_WEBSOCKET_SAMPLE_RATE))


async def async_unload_entry(hass: HomeAssistant, entry: WorkersAIConfigEntry) -> bool:
    """Unload the speech platforms."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def _async_update_listener(hass: HomeAssistant, entry: WorkersAIConfigEntry) -> None:
    """Reload after a change of the entry or its services; a new voice only updates entities."""
    if setup_key(entry) != entry.runtime_data.setup_key:
        await hass.config_entries.async_reload(entry.entry_id)
        return
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_TTS:
            async_dispatcher_send(hass, SIGNAL_VOICE_CHANGED.format(subentry.subentry_id))
