"""Subentry flows: add a speech-to-text or text-to-speech service, or change its settings."""

from typing import Any, override

import probatio

from homeassistant.config_entries import SOURCE_USER, ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import CONF_LANGUAGE, CONF_MODEL, CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.selector import (
    EntitySelector,
    EntitySelectorConfig,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from wyoming_server.workers_ai import catalog
from wyoming_server.workers_ai.language_tags import base_language

from .const import (
    CONF_VOICE,
    DEFAULT_STT_MODEL,
    DEFAULT_TTS_MODEL,
    DOMAIN,
    LANGUAGE_AUTO,
    SUBENTRY_STT,
    SUBENTRY_TTS,
)
from .entity import model_label, model_name, subentry_model
from .failover import CONF_FAILOVER_ENTITY
from .languages import (
    base_languages,
    household_language,
    language_name,
    speaks,
    stt_language_options,
)

DEFAULT_TITLE_PREFIX = "Workers AI "


def default_title(model: catalog.SpeechModel) -> str:
    """The title a new service of ``model`` gets: ``Workers AI Aura 2 English``."""
    return f"{DEFAULT_TITLE_PREFIX}{model_name(model)}"


def service_data(
    hass: HomeAssistant, subentry_type: str, model: catalog.SpeechModel, old: dict[str, Any]
) -> dict[str, Any]:
    """Subentry data for ``model``, keeping what of ``old`` still applies."""
    bases = base_languages(model)
    language = old.get(CONF_LANGUAGE)
    auto = subentry_type == SUBENTRY_STT and LANGUAGE_AUTO in stt_language_options(model)
    if auto and language == LANGUAGE_AUTO:
        return {CONF_MODEL: model.model_id, CONF_LANGUAGE: LANGUAGE_AUTO}
    if not isinstance(language, str) or base_language(language) not in bases:
        # Home Assistant's language; else let the model detect it; else English.
        language = household_language(hass, bases) or (
            LANGUAGE_AUTO if auto else ("en" if "en" in bases else bases[0])
        )
        if language == LANGUAGE_AUTO:
            return {CONF_MODEL: model.model_id, CONF_LANGUAGE: LANGUAGE_AUTO}
    data: dict[str, Any] = {CONF_MODEL: model.model_id, CONF_LANGUAGE: base_language(language)}
    if model.speakers:
        voice = old.get(CONF_VOICE)
        data[CONF_VOICE] = voice if voice in model.speakers else model.default_speaker
    return data


def clean(value: Any) -> str:
    """A form value as a stripped string (None → "")."""
    return str(value or "").strip()


def model_selector(models: list[catalog.SpeechModel]) -> SelectSelector:
    """A dropdown of catalog models labelled like ``Aura 2 English (Deepgram)``."""
    return SelectSelector(
        SelectSelectorConfig(
            options=[SelectOptionDict(value=m.model_id, label=model_label(m)) for m in models],
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


def language_selector(codes: list[str]) -> SelectSelector:
    """A dropdown of languages by name; ``auto`` is translated (selector key ``language``)."""
    return SelectSelector(
        SelectSelectorConfig(
            options=[SelectOptionDict(value=c, label=language_name(c)) for c in codes],
            mode=SelectSelectorMode.DROPDOWN,
            translation_key="language",
        )
    )


def household_model(
    hass: HomeAssistant, models: tuple[catalog.SpeechModel, ...], preferred: str
) -> catalog.SpeechModel:
    """``preferred`` if it speaks Home Assistant's language, else the first model that does."""
    first = catalog.get_model(preferred)
    return next((m for m in (first, *models) if speaks(m, hass)), first)


class _SpeechSubentryFlow(ConfigSubentryFlow):
    """Add a service (pick the model, then its settings) or change a service's settings.

    An existing service keeps its model (``reconfigure`` shows the settings only), so its
    title, entity IDs and the voices pipelines store for it stay valid; another model is
    another service.
    """

    task: catalog.Task
    subentry_type: str
    default_model: str
    _model: catalog.SpeechModel
    _current: dict[str, Any]

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add a service: choose its model."""
        models = [m for m in catalog.MODELS.values() if m.task is self.task]
        if user_input is not None:
            self._model = catalog.get_model(user_input[CONF_MODEL])
            self._current = {}
            return await self.async_step_settings()
        default = household_model(self.hass, tuple(models), self.default_model)
        schema = probatio.Schema(
            {probatio.Required(CONF_MODEL, default=default.model_id): model_selector(models)}
        )
        return self.async_show_form(step_id="user", data_schema=schema)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a service's settings (not its model)."""
        subentry = self._get_reconfigure_subentry()
        model = subentry_model(subentry)
        if model is None:
            return self.async_abort(reason="unknown_model")
        self._model = model
        self._current = dict(subentry.data)
        return await self.async_step_settings()

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Name, language and (aura) voice of the service."""
        model = self._model
        if user_input is not None:
            name = clean(user_input.get(CONF_NAME)) or default_title(model)
            data = {
                **service_data(self.hass, self.subentry_type, model, self._current),
                **{k: v for k, v in user_input.items() if k != CONF_NAME},
            }
            if self.source == SOURCE_USER:
                return self.async_create_entry(title=name, data=data)
            return self.async_update_and_abort(
                self._get_entry(), self._get_reconfigure_subentry(), title=name, data=data
            )
        current = service_data(self.hass, self.subentry_type, model, self._current)
        title = (
            default_title(model)
            if self.source == SOURCE_USER
            else self._get_reconfigure_subentry().title
        )
        fields: dict[Any, Any] = {probatio.Required(CONF_NAME, default=title): TextSelector()}
        languages = self._language_options(model)
        if len(languages) > 1:
            fields[probatio.Required(CONF_LANGUAGE, default=current[CONF_LANGUAGE])] = (
                language_selector(languages)
            )
        if model.speakers:
            fields[probatio.Required(CONF_VOICE, default=current[CONF_VOICE])] = SelectSelector(
                SelectSelectorConfig(
                    options=[
                        SelectOptionDict(value=s, label=s.capitalize())
                        for s in sorted(model.speakers)
                    ],
                    mode=SelectSelectorMode.DROPDOWN,
                )
            )
        fields[
            probatio.Optional(
                CONF_FAILOVER_ENTITY,
                description={"suggested_value": self._current.get(CONF_FAILOVER_ENTITY)},
            )
        ] = self._failover_selector()
        return self.async_show_form(
            step_id="settings",
            data_schema=probatio.Schema(fields),
            description_placeholders={"model": f"{model_label(model)}, {model.model_id}"},
        )

    def _language_options(self, model: catalog.SpeechModel) -> list[str]:
        return base_languages(model)

    def _failover_selector(self) -> EntitySelector:
        """Any entity of the service's kind (stt or tts) except the service's own."""
        own: list[str] = []
        if self.source != SOURCE_USER:
            registry = er.async_get(self.hass)
            subentry_id = self._get_reconfigure_subentry().subentry_id
            if entity_id := registry.async_get_entity_id(self.subentry_type, DOMAIN, subentry_id):
                own.append(entity_id)
        return EntitySelector(EntitySelectorConfig(domain=self.subentry_type, exclude_entities=own))


class SttSubentryFlow(_SpeechSubentryFlow):
    """Add or change a speech-to-text service: ASR model and spoken language."""

    task = catalog.Task.ASR
    subentry_type = SUBENTRY_STT
    default_model = DEFAULT_STT_MODEL

    @override
    def _language_options(self, model: catalog.SpeechModel) -> list[str]:
        return stt_language_options(model)


class TtsSubentryFlow(_SpeechSubentryFlow):
    """Add or change a text-to-speech service: TTS model, language and voice."""

    task = catalog.Task.TTS
    subentry_type = SUBENTRY_TTS
    default_model = DEFAULT_TTS_MODEL
