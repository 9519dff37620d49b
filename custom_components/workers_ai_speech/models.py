"""Runtime data of a Workers AI Speech config entry."""

from dataclasses import dataclass, field

from homeassistant.config_entries import ConfigEntry

from wyoming_server.workers_ai import WorkersAIClient

from .budget import BudgetGuard
from .const import CONF_VOICE
from .failover import ServiceFailover
from .tts_spares import SpareSockets
from .usage import AccountUsage
from .vocabulary import HomeVocabulary

type SetupKey = tuple[object, ...]
"""What :func:`setup_key` returns: compared with ``==``, never read."""


@dataclass
class WorkersAIData:
    """What the platforms share while the entry is loaded.

    ``client`` talks to Workers AI on Home Assistant's shared aiohttp session with the
    voice-path time budgets; ``long_text_client`` is the same account with budgets for
    messages longer than one TTS request.
    ``setup_key`` is :func:`setup_key` of the entry as it was set up: an update that leaves it
    unchanged (a new voice chosen with the select) needs no reload.
    """

    client: WorkersAIClient
    long_text_client: WorkersAIClient
    setup_key: SetupKey = field(repr=False)  # holds the entry's data, API token included
    vocabulary: HomeVocabulary
    """The home's names for speech-to-text (vocabulary.py)."""
    usage: AccountUsage
    """Usage and latency of the account (usage.py, sensor.py)."""
    budget: BudgetGuard
    """The daily budget (budget.py)."""
    failovers: dict[str, ServiceFailover] = field(default_factory=dict)
    """Breaker and failover entity of each speech service, by subentry ID (failover.py)."""
    spares: SpareSockets | None = None
    """Aura WebSockets opened ahead of the next reply (tts_spares.py); closed on unload."""


type WorkersAIConfigEntry = ConfigEntry[WorkersAIData]


def setup_key(entry: ConfigEntry) -> SetupKey:
    """Everything of ``entry`` the entities are built from, except the voices."""
    return (
        sorted(entry.data.items()),
        sorted(entry.options.items()),  # vocabulary and budget (options_flow.py)
        sorted(
            (
                subentry.subentry_id,
                subentry.subentry_type,
                subentry.title,
                sorted((k, v) for k, v in subentry.data.items() if k != CONF_VOICE),
            )
            for subentry in entry.subentries.values()
        ),
    )
