"""A daily budget in neurons, and a repair issue when the free allocation is spent.

When today's neurons (UTC, usage.py) reach the budget (option ``daily_budget_neurons``, 0 = no
budget), each service switches to the cheaper model the user picked (options
``budget_stt_model``, e.g. nova-3 → whisper-large-v3-turbo, and ``budget_tts_model``, e.g.
aura-2 → aura-1 or MeloTTS) or refuses with a clear message. At 00:00 UTC everything is back.
Independently, a repair issue says when the day's 10,000 free neurons are spent: Workers AI then
fails every request until 00:00 UTC unless the account is on Workers Paid
(https://developers.cloudflare.com/workers-ai/platform/pricing/).
"""

from collections.abc import AsyncGenerator, AsyncIterator

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from wyoming_server.workers_ai import WorkersAIClient, catalog
from wyoming_server.workers_ai.audio import pcm_to_wav
from wyoming_server.workers_ai.errors import WorkersAIError
from wyoming_server.workers_ai.usage import DAILY_FREE_NEURONS

from .const import DOMAIN
from .usage import AccountUsage

CONF_DAILY_BUDGET = "daily_budget_neurons"
CONF_BUDGET_STT_MODEL = "budget_stt_model"
CONF_BUDGET_TTS_MODEL = "budget_tts_model"
BUDGET_REFUSE = "refuse"
ISSUE_FREE_ALLOCATION_SPENT = "free_allocation_spent"


class BudgetExceededError(WorkersAIError):
    """Today's budget is spent and the user chose to refuse requests until 00:00 UTC."""


class BudgetGuard:
    """Applies the daily budget of one account (config entry)."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        title: str,
        usage: AccountUsage,
        options: dict[str, object],
    ) -> None:
        """Read the budget options."""
        self.hass = hass
        self.usage = usage
        self.issue_id = f"{ISSUE_FREE_ALLOCATION_SPENT}_{entry_id}"
        self.title = title
        budget = options.get(CONF_DAILY_BUDGET) or 0
        self.budget = float(budget) if isinstance(budget, (int, float)) else 0.0
        model = options.get(CONF_BUDGET_STT_MODEL)
        self.stt_model = model if isinstance(model, str) and model != BUDGET_REFUSE else None
        model = options.get(CONF_BUDGET_TTS_MODEL)
        self.tts_model = model if isinstance(model, str) and model != BUDGET_REFUSE else None

    @property
    def reached(self) -> bool:
        """True when a budget is set and today's neurons reached it."""
        self.usage.roll_over()
        return self.budget > 0 and self.usage.neurons_today >= self.budget

    def stt_fallback(self, model_id: str) -> str | None:
        """The model to use instead of ``model_id`` now, or ``None`` (no change).

        Raises:
            BudgetExceededError: the budget is reached and no fallback model was chosen.
        """
        if not self.reached or self.stt_model == model_id:
            return None
        if self.stt_model is None:
            raise BudgetExceededError(self._message())
        return self.stt_model

    def tts_fallback(self, model_id: str) -> str | None:
        """Like :meth:`stt_fallback`, for text-to-speech."""
        if not self.reached or self.tts_model == model_id:
            return None
        if self.tts_model is None:
            raise BudgetExceededError(self._message())
        return self.tts_model

    def _message(self) -> str:
        return (
            f"the daily budget of {self.budget:g} neurons is spent "
            f"({self.usage.neurons_today:.0f} today); requests resume at 00:00 UTC"
        )

    @callback
    def async_update_issue(self) -> None:
        """Raise or clear the "free allocation spent" repair issue."""
        if self.usage.neurons_today >= DAILY_FREE_NEURONS:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self.issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="free_allocation_spent",
                translation_placeholders={
                    "account": self.title,
                    "neurons": f"{self.usage.neurons_today:.0f}",
                },
            )
        else:
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)


FALLBACK_SAMPLE_RATE = catalog.AURA_WEBSOCKET_SAMPLE_RATE_HZ
"""Hz of the WAV a fallback TTS model's speech is returned in."""


async def fallback_speech(
    client: WorkersAIClient, model_id: str, text: str, speaker: str | None, language: str
) -> bytes:
    """``text`` spoken by the fallback TTS ``model_id`` as a WAV file (24 kHz mono).

    The speaker is kept when the fallback has it (aura-2 ``luna`` is also an aura-1 voice),
    else the fallback's default is used; MeloTTS takes the language instead.
    """
    model = catalog.get_model(model_id)
    voice = speaker if speaker in model.speakers else model.default_speaker
    pcm = await client.synthesize_pcm(
        model_id,
        text,
        speaker=voice,
        language=None if model.speakers else language,
        sample_rate=FALLBACK_SAMPLE_RATE,
    )
    return pcm_to_wav(pcm.pcm, pcm.sample_rate)


async def fallback_stream(
    client: WorkersAIClient,
    model_id: str,
    message_gen: AsyncIterator[str],
    speaker: str | None,
    language: str,
) -> AsyncGenerator[bytes]:
    """The streamed message, gathered and spoken by the fallback model (one WAV)."""
    text = "".join([part async for part in message_gen])
    yield await fallback_speech(client, model_id, text, speaker, language)
