"""Integration options: the home's vocabulary and a daily budget (vocabulary.py, budget.py)."""

from typing import Any

import probatio

from homeassistant.config_entries import ConfigFlowResult, OptionsFlow
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
)

from wyoming_server.workers_ai import catalog

from .budget import BUDGET_REFUSE, CONF_BUDGET_STT_MODEL, CONF_BUDGET_TTS_MODEL, CONF_DAILY_BUDGET
from .failover import (
    CONF_FAILOVER_FAILURES,
    CONF_FAILOVER_OPEN_SECONDS,
    DEFAULT_FAILOVER_FAILURES,
    DEFAULT_FAILOVER_OPEN_SECONDS,
)
from .vocabulary import CONF_VOCABULARY, CONF_VOCABULARY_TERMS


class WorkersAIOptionsFlow(OptionsFlow):
    """One form: vocabulary on/off, the user's terms, the daily budget and what happens then."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show or save the options."""
        if user_input is not None:
            terms = [t.strip() for t in user_input.get(CONF_VOCABULARY_TERMS, []) if t.strip()]
            return self.async_create_entry(data={**user_input, CONF_VOCABULARY_TERMS: terms})
        stt_models = [
            SelectOptionDict(value=BUDGET_REFUSE, label="Refuse until 00:00 UTC"),
            *(
                SelectOptionDict(value=m.model_id, label=f"Switch to {m.display_name}")
                for m in catalog.ASR_MODELS
                if m.rest
            ),
        ]
        tts_models = [
            SelectOptionDict(value=BUDGET_REFUSE, label="Refuse until 00:00 UTC"),
            *(
                SelectOptionDict(
                    value=m.model_id, label=f"Switch to {m.display_name} ({m.short_name})"
                )
                for m in catalog.TTS_MODELS
                if m.rest
            ),
        ]
        schema = probatio.Schema(
            {
                probatio.Optional(CONF_VOCABULARY, default=True): BooleanSelector(),
                probatio.Optional(CONF_VOCABULARY_TERMS, default=[]): TextSelector(
                    TextSelectorConfig(multiple=True)
                ),
                probatio.Optional(CONF_DAILY_BUDGET, default=0): NumberSelector(
                    NumberSelectorConfig(
                        min=0, max=1_000_000, step=100, mode=NumberSelectorMode.BOX
                    )
                ),
                probatio.Optional(CONF_BUDGET_STT_MODEL, default=BUDGET_REFUSE): SelectSelector(
                    SelectSelectorConfig(options=stt_models, mode=SelectSelectorMode.DROPDOWN)
                ),
                probatio.Optional(CONF_BUDGET_TTS_MODEL, default=BUDGET_REFUSE): SelectSelector(
                    SelectSelectorConfig(options=tts_models, mode=SelectSelectorMode.DROPDOWN)
                ),
                probatio.Optional(
                    CONF_FAILOVER_FAILURES, default=DEFAULT_FAILOVER_FAILURES
                ): NumberSelector(
                    NumberSelectorConfig(min=1, max=20, step=1, mode=NumberSelectorMode.BOX)
                ),
                probatio.Optional(
                    CONF_FAILOVER_OPEN_SECONDS, default=DEFAULT_FAILOVER_OPEN_SECONDS
                ): NumberSelector(
                    NumberSelectorConfig(min=1, max=3600, step=1, mode=NumberSelectorMode.BOX)
                ),
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, self.config_entry.options),
        )
