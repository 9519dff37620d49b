"""Base entity (one device per speech-service subentry) and model labels."""

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_MODEL
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity

from wyoming_server.workers_ai import catalog

from .const import CONF_VOICE, DOMAIN, MANUFACTURER, SUBENTRY_STT
from .languages import language_name
from .models import WorkersAIConfigEntry

_TASKS = {SUBENTRY_STT: catalog.Task.ASR}


def subentry_model(subentry: ConfigSubentry) -> catalog.SpeechModel | None:
    """The catalog model of a service subentry; None if unknown or of the wrong task."""
    try:
        model = catalog.get_model(str(subentry.data.get(CONF_MODEL)))
    except KeyError:
        return None
    task = _TASKS.get(subentry.subentry_type, catalog.Task.TTS)
    return model if model.task is task else None


def model_name(model: catalog.SpeechModel) -> str:
    """Name a model so no other model of its task shares it: ``Aura 2 English``."""
    name = model.display_name.replace(" (", " ").replace(")", "")
    twins = [
        m
        for m in catalog.MODELS.values()
        if m.task is model.task and m.display_name == model.display_name
    ]
    if len(twins) > 1 and len(model.languages) == 1:
        name = f"{name} {language_name(model.languages[0])}"
    return name


def model_label(model: catalog.SpeechModel) -> str:
    """Dropdown and device label: ``Aura 2 English (Deepgram)``."""
    return f"{model_name(model)} ({model.vendor})"


class WorkersAIEntity(Entity):
    """An entity of a ``stt`` or ``tts`` subentry, attached to the subentry's service device."""

    _attr_has_entity_name = True

    def __init__(
        self,
        entry: WorkersAIConfigEntry,
        subentry: ConfigSubentry,
        model: catalog.SpeechModel,
    ) -> None:
        """Describe the subentry's device; ``model`` is its Workers AI catalog entry."""
        self.entry = entry
        self.subentry = subentry
        self.model = model
        self._attr_unique_id = subentry.subentry_id
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, subentry.subentry_id)},
            name=subentry.title,
            manufacturer=MANUFACTURER,
            model=model_label(model),
            model_id=model.model_id,
            entry_type=DeviceEntryType.SERVICE,
        )


def stored_voice(entry: WorkersAIConfigEntry, subentry_id: str, model: catalog.SpeechModel) -> str:
    """The aura speaker stored for a text-to-speech service (what its voice select shows).

    The one source of truth is the subentry's ``voice``; a voice the model does not have (a
    catalog change, an edited file) gives the model's default speaker.
    """
    subentry = entry.subentries.get(subentry_id)
    voice = subentry.data.get(CONF_VOICE) if subentry else None
    if isinstance(voice, str) and voice in model.speakers:
        return voice
    return model.default_speaker or model.speakers[0]
