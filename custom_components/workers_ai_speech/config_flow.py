"""Config flow for Workers AI Speech: the account, plus STT and TTS service subentries."""

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, override

import probatio
from homeassistant.config_entries import (
    SOURCE_USER,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryData,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from yarl import URL

from wyoming_server.workers_ai import WorkersAIClient, catalog
from wyoming_server.workers_ai.errors import (
    AccountNotFoundError,
    AuthenticationError,
    ConnectionFailedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    WorkersAIError,
)

from .const import (
    CONF_ACCOUNT_ID,
    CONF_API_BASE_URL,
    CONF_API_TOKEN,
    CONF_LANGUAGE,
    CONF_MODEL,
    CONF_VOICE,
    DEFAULT_API_BASE_URL,
    DEFAULT_STT_MODEL,
    DEFAULT_TTS_MODEL,
    DEFAULT_TTS_VOICE,
    DOMAIN,
    SUBENTRY_STT,
    SUBENTRY_TTS,
)
from .languages import default_language, stt_language_options
from .options_flow import WorkersAIOptionsFlow

_LOGGER = logging.getLogger(__name__)

_TOKEN_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
_URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))

STEP_USER_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_ACCOUNT_ID): TextSelector(),
        probatio.Required(CONF_API_TOKEN): _TOKEN_SELECTOR,
        probatio.Optional(CONF_API_BASE_URL): _URL_SELECTOR,
    }
)
STEP_REAUTH_SCHEMA = probatio.Schema({probatio.Required(CONF_API_TOKEN): _TOKEN_SELECTOR})

# Errors that mean "Workers AI could not be reached right now" rather than "wrong settings".
_UNREACHABLE = (ConnectionFailedError, RequestTimeoutError, ServerError, RateLimitError)


def _normalize(user_input: Mapping[str, Any]) -> dict[str, str]:
    """Strip whitespace, drop an empty base URL and its trailing slash."""
    data = {
        CONF_ACCOUNT_ID: str(user_input[CONF_ACCOUNT_ID]).strip(),
        CONF_API_TOKEN: str(user_input[CONF_API_TOKEN]).strip(),
    }
    if base_url := str(user_input.get(CONF_API_BASE_URL) or "").strip().rstrip("/"):
        data[CONF_API_BASE_URL] = base_url
    return data


def _valid_base_url(base_url: str) -> bool:
    """Return True for an absolute http(s) URL such as ``http://127.0.0.1:8787/client/v4``."""
    try:
        url = URL(base_url)
    except ValueError:
        return False
    return url.scheme in ("http", "https") and bool(url.host)


async def _async_validate(
    hass: HomeAssistant, data: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Check the credentials with a real Workers AI call (``client.verify()``).

    Returns the form errors (empty when valid) and their description placeholders.
    """
    base_url = data.get(CONF_API_BASE_URL, DEFAULT_API_BASE_URL)
    if not _valid_base_url(base_url):
        return {CONF_API_BASE_URL: "invalid_url"}, {}
    client = WorkersAIClient(
        async_get_clientsession(hass),
        data[CONF_ACCOUNT_ID],
        data[CONF_API_TOKEN],
        api_base_url=base_url,
    )
    try:
        await client.verify()
    except AuthenticationError:
        return {"base": "invalid_auth"}, {}
    except AccountNotFoundError:
        return {CONF_ACCOUNT_ID: "invalid_account"}, {}
    except _UNREACHABLE as err:
        _LOGGER.debug("Workers AI not reachable: %s", err)
        return {"base": "cannot_connect"}, {}
    except WorkersAIError as err:
        return {"base": "api_error"}, {"error": str(err)}
    except Exception:
        _LOGGER.exception("Unexpected error while checking the Workers AI credentials")
        return {"base": "unknown"}, {}
    return {}, {}


def _model_selector(models: tuple[catalog.SpeechModel, ...]) -> SelectSelector:
    """A dropdown of catalog models labelled like ``Nova-3 (Deepgram)``."""
    return SelectSelector(
        SelectSelectorConfig(
            options=[
                SelectOptionDict(value=m.model_id, label=f"{m.display_name} ({m.vendor})")
                for m in models
            ],
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


def _language_label(code: str) -> str:
    base = code.split("-", 1)[0]
    name = catalog.LANGUAGE_NAMES.get(base)
    return f"{name} ({code})" if name else code


def _language_selector(codes: list[str]) -> SelectSelector:
    """A dropdown of language codes; ``auto`` is translated (selector key ``language``)."""
    return SelectSelector(
        SelectSelectorConfig(
            options=[SelectOptionDict(value=c, label=_language_label(c)) for c in codes],
            mode=SelectSelectorMode.DROPDOWN,
            translation_key="language",
        )
    )


def default_stt_subentry(hass: HomeAssistant) -> ConfigSubentryData:
    """The speech-to-text subentry created with a new entry: nova-3 over the WebSocket."""
    model = catalog.get_model(DEFAULT_STT_MODEL)
    return {
        "subentry_type": SUBENTRY_STT,
        "title": f"Workers AI {model.display_name}",
        "data": {
            CONF_MODEL: model.model_id,
            CONF_LANGUAGE: default_language(hass, list(model.languages)),
        },
        "unique_id": None,
    }


def default_tts_subentry() -> ConfigSubentryData:
    """The text-to-speech subentry created with a new entry: Aura 2 English, ``luna``."""
    model = catalog.get_model(DEFAULT_TTS_MODEL)
    return {
        "subentry_type": SUBENTRY_TTS,
        "title": f"Workers AI {model.display_name}",
        "data": {
            CONF_MODEL: model.model_id,
            CONF_LANGUAGE: model.languages[0],
            CONF_VOICE: DEFAULT_TTS_VOICE,
        },
        "unique_id": None,
    }


class WorkersAIConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a Cloudflare account for Workers AI speech models."""

    VERSION = 1
    MINOR_VERSION = 1

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the account ID, API token and optional API base URL."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = _normalize(user_input)
            await self.async_set_unique_id(data[CONF_ACCOUNT_ID])
            self._abort_if_unique_id_configured()
            errors, placeholders = await _async_validate(self.hass, data)
            if not errors:
                return self.async_create_entry(
                    title=f"Workers AI {data[CONF_ACCOUNT_ID][:8]}",
                    data=data,
                    subentries=[default_stt_subentry(self.hass), default_tts_subentry()],
                )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(STEP_USER_SCHEMA, user_input),
            errors=errors,
            description_placeholders={"default_url": DEFAULT_API_BASE_URL, **placeholders},
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start re-authentication after Workers AI rejected the API token."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a new API token for the same account."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        placeholders = {"account_id": entry.data[CONF_ACCOUNT_ID]}
        if user_input is not None:
            data = _normalize({**entry.data, CONF_API_TOKEN: user_input[CONF_API_TOKEN]})
            errors, extra = await _async_validate(self.hass, data)
            # The form has only the token field: show other fields' errors form-wide.
            errors = {"base": next(iter(errors.values()))} if errors else {}
            placeholders.update(extra)
            if not errors:
                return self._async_update(entry, data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=STEP_REAUTH_SCHEMA,
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the API token or the API base URL of an entry."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = _normalize(user_input)
            await self.async_set_unique_id(data[CONF_ACCOUNT_ID])
            self._abort_if_unique_id_mismatch(reason="account_mismatch")
            errors, placeholders = await _async_validate(self.hass, data)
            if not errors:
                return self._async_update(entry, data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                STEP_USER_SCHEMA, user_input or dict(entry.data)
            ),
            errors=errors,
            description_placeholders={"default_url": DEFAULT_API_BASE_URL, **placeholders},
        )

    def _async_update(self, entry: ConfigEntry, data: dict[str, str]) -> ConfigFlowResult:
        """Store new data; the update listener of a loaded entry reloads it."""
        if entry.update_listeners:
            return self.async_update_and_abort(entry, data=data)
        return self.async_update_reload_and_abort(entry, data=data)

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Vocabulary and daily budget (options_flow.py)."""
        return WorkersAIOptionsFlow()

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Speech-to-text and text-to-speech services are subentries."""
        return {SUBENTRY_STT: SttSubentryFlow, SUBENTRY_TTS: TtsSubentryFlow}


class _SpeechSubentryFlow(ConfigSubentryFlow, ABC):
    """Two steps: pick the model (``user`` / ``reconfigure``), then its settings."""

    models: tuple[catalog.SpeechModel, ...]
    default_model: str
    _data: dict[str, Any]

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add a service: choose its model."""
        if user_input is not None:
            self._data = {CONF_MODEL: user_input[CONF_MODEL]}
            return await self.async_step_settings()
        return self._show_model_form("user", self.default_model)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a service: its model first."""
        current = dict(self._get_reconfigure_subentry().data)
        if user_input is not None:
            self._data = {**current, CONF_MODEL: user_input[CONF_MODEL]}
            return await self.async_step_settings()
        return self._show_model_form("reconfigure", current[CONF_MODEL])

    def _show_model_form(self, step_id: str, model_id: str) -> SubentryFlowResult:
        schema = probatio.Schema(
            {probatio.Required(CONF_MODEL, default=model_id): _model_selector(self.models)}
        )
        return self.async_show_form(step_id=step_id, data_schema=schema)

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Settings that depend on the model (language, voice) and, for a new service, a name."""
        model = catalog.get_model(self._data[CONF_MODEL])
        if user_input is not None:
            data = {CONF_MODEL: model.model_id, **self._settings_data(model, user_input)}
            if self.source == SOURCE_USER:
                return self.async_create_entry(title=user_input[CONF_NAME], data=data)
            return self.async_update_and_abort(
                self._get_entry(), self._get_reconfigure_subentry(), data=data
            )
        fields: dict[Any, Any] = {}
        if self.source == SOURCE_USER:
            fields[probatio.Required(CONF_NAME, default=f"Workers AI {model.display_name}")] = (
                TextSelector()
            )
        fields.update(self._settings_fields(model))
        return self.async_show_form(
            step_id="settings",
            data_schema=probatio.Schema(fields),
            description_placeholders={"model": f"{model.display_name} ({model.model_id})"},
        )

    def _pick(self, key: str, options: list[str], fallback: str) -> str:
        """The current value of ``key`` if it is still an option, else ``fallback``."""
        value = self._data.get(key)
        return value if isinstance(value, str) and value in options else fallback

    @abstractmethod
    def _settings_fields(self, model: catalog.SpeechModel) -> dict[Any, Any]:
        """The settings form fields for ``model``."""

    @abstractmethod
    def _settings_data(
        self, model: catalog.SpeechModel, user_input: dict[str, Any]
    ) -> dict[str, Any]:
        """The subentry data (besides the model) from the settings form."""


class SttSubentryFlow(_SpeechSubentryFlow):
    """Add or change a speech-to-text service: ASR model and spoken language."""

    models = catalog.ASR_MODELS
    default_model = DEFAULT_STT_MODEL

    @override
    def _settings_fields(self, model: catalog.SpeechModel) -> dict[Any, Any]:
        options = stt_language_options(model)
        default = self._pick(
            CONF_LANGUAGE, options, default_language(self.hass, list(model.languages))
        )
        return {probatio.Required(CONF_LANGUAGE, default=default): _language_selector(options)}

    @override
    def _settings_data(
        self, model: catalog.SpeechModel, user_input: dict[str, Any]
    ) -> dict[str, Any]:
        return {CONF_LANGUAGE: user_input[CONF_LANGUAGE]}


class TtsSubentryFlow(_SpeechSubentryFlow):
    """Add or change a text-to-speech service: TTS model, language and default voice."""

    models = catalog.TTS_MODELS
    default_model = DEFAULT_TTS_MODEL

    @override
    def _settings_fields(self, model: catalog.SpeechModel) -> dict[Any, Any]:
        languages = list(model.languages)
        language = self._pick(CONF_LANGUAGE, languages, default_language(self.hass, languages))
        fields: dict[Any, Any] = {
            probatio.Required(CONF_LANGUAGE, default=language): _language_selector(languages)
        }
        if model.speakers:
            speakers = list(model.speakers)
            fields[
                probatio.Required(
                    CONF_VOICE,
                    default=self._pick(CONF_VOICE, speakers, model.default_speaker or speakers[0]),
                )
            ] = SelectSelector(
                SelectSelectorConfig(
                    options=[
                        SelectOptionDict(value=s, label=s.capitalize()) for s in sorted(speakers)
                    ],
                    mode=SelectSelectorMode.DROPDOWN,
                )
            )
        return fields

    @override
    def _settings_data(
        self, model: catalog.SpeechModel, user_input: dict[str, Any]
    ) -> dict[str, Any]:
        data = {CONF_LANGUAGE: user_input[CONF_LANGUAGE]}
        if model.speakers:
            data[CONF_VOICE] = user_input[CONF_VOICE]
        return data
