"""Cloudflare Workers AI speech models (speech-to-text and text-to-speech) for Home Assistant."""

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_utc_time_change

from wyoming_server.workers_ai import WorkersAIClient
from wyoming_server.workers_ai.errors import (
    AccountNotFoundError,
    AuthenticationError,
    WorkersAIError,
)
from wyoming_server.workers_ai.usage import UsageMeter

from .budget import BudgetGuard
from .const import CONF_ACCOUNT_ID, CONF_API_BASE_URL, CONF_API_TOKEN, DEFAULT_API_BASE_URL, DOMAIN
from .models import WorkersAIConfigEntry, WorkersAIData
from .usage import AccountUsage
from .vocabulary import HomeVocabulary

PLATFORMS = [Platform.SELECT, Platform.SENSOR, Platform.STT, Platform.TTS]


async def async_setup_entry(hass: HomeAssistant, entry: WorkersAIConfigEntry) -> bool:
    """Check the account with a real Workers AI call, then set up the speech platforms.

    Raises:
        ConfigEntryAuthFailed: the API token was rejected (starts re-authentication).
        ConfigEntryError: the account ID does not exist.
        ConfigEntryNotReady: Workers AI could not be reached (Home Assistant retries).
    """
    client = WorkersAIClient(
        async_get_clientsession(hass),
        entry.data[CONF_ACCOUNT_ID],
        entry.data[CONF_API_TOKEN],
        api_base_url=entry.data.get(CONF_API_BASE_URL, DEFAULT_API_BASE_URL),
    )
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
    except WorkersAIError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"error": str(err)},
        ) from err

    client.usage = UsageMeter()
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
        client=client, vocabulary=vocabulary, usage=usage, budget=budget
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: WorkersAIConfigEntry) -> bool:
    """Unload the speech platforms."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def _async_reload(hass: HomeAssistant, entry: WorkersAIConfigEntry) -> None:
    """Reload after the entry or one of its subentries changed."""
    await hass.config_entries.async_reload(entry.entry_id)
