"""Runtime data of a Workers AI Speech config entry."""

from dataclasses import dataclass, field

from homeassistant.config_entries import ConfigEntry

from wyoming_server.workers_ai import WorkersAIClient

from .budget import BudgetGuard
from .usage import AccountUsage
from .vocabulary import HomeVocabulary


@dataclass
class WorkersAIData:
    """What the platforms share while the entry is loaded.

    ``client`` talks to Workers AI on Home Assistant's shared aiohttp session.
    ``selected_voices`` maps a ``tts`` subentry ID to the voice its select entity chose.
    """

    client: WorkersAIClient
    selected_voices: dict[str, str] = field(default_factory=dict)
    vocabulary: HomeVocabulary | None = None
    """The home's names for speech-to-text (vocabulary.py)."""
    usage: AccountUsage | None = None
    """Usage and latency of the account (usage.py, sensor.py)."""
    budget: BudgetGuard | None = None
    """The daily budget (budget.py)."""


type WorkersAIConfigEntry = ConfigEntry[WorkersAIData]
