"""Usage and latency sensors of a Workers AI account (one device per config entry).

Usage: neurons today, share of the daily free allocation (10,000 neurons), cost beyond it today
and this month (USD), speech-to-text audio minutes, utterances cut at their audio limit and
text-to-speech characters today. Totals
have ``state_class: total`` with ``last_reset`` at 00:00 UTC (the month's first day for the
monthly cost), so long-term statistics follow them, and they are restored after a restart
within the same period. Latency (diagnostic, disabled by default): last and median speech-to-text
wait after the end of speech, and text-to-speech time to first audio.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .const import DOMAIN, MANUFACTURER
from .models import WorkersAIConfigEntry
from .usage import STT, TTS, AccountUsage

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class UsageSensorDescription(SensorEntityDescription):
    """A usage sensor: its value, and the usage field it restores (``None``: derived)."""

    value_fn: Callable[[AccountUsage], float | None]
    restore_key: str | None = None
    monthly: bool = False


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


SENSORS: tuple[UsageSensorDescription, ...] = (
    UsageSensorDescription(
        key="neurons_today",
        translation_key="neurons_today",
        native_unit_of_measurement="neurons",
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=1,
        value_fn=lambda u: round(u.neurons_today, 3),
        restore_key="neurons_today",
    ),
    UsageSensorDescription(
        key="free_allocation_used",
        translation_key="free_allocation_used",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda u: round(u.free_share, 3),
    ),
    UsageSensorDescription(
        key="cost_today",
        translation_key="cost_today",
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement="USD",
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=4,
        value_fn=lambda u: round(u.usd_today, 6),
    ),
    UsageSensorDescription(
        key="cost_month",
        translation_key="cost_month",
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement="USD",
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=4,
        value_fn=lambda u: round(u.usd_month, 6),
        restore_key="usd_month",
        monthly=True,
    ),
    UsageSensorDescription(
        key="stt_audio_today",
        translation_key="stt_audio_today",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MINUTES,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=2,
        value_fn=lambda u: round(u.stt_seconds_today / 60, 4),
        restore_key="stt_seconds_today",
    ),
    UsageSensorDescription(
        key="stt_truncated_today",
        translation_key="stt_truncated_today",
        native_unit_of_measurement="utterances",
        state_class=SensorStateClass.TOTAL,
        value_fn=lambda u: u.stt_truncated_today,
        restore_key="stt_truncated_today",
    ),
    UsageSensorDescription(
        key="tts_characters_today",
        translation_key="tts_characters_today",
        native_unit_of_measurement="characters",
        state_class=SensorStateClass.TOTAL,
        value_fn=lambda u: u.tts_characters_today,
        restore_key="tts_characters_today",
    ),
    UsageSensorDescription(
        key="stt_wait_last",
        translation_key="stt_wait_last",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda u: _ms(u.latency[STT].last),
    ),
    UsageSensorDescription(
        key="stt_wait_median",
        translation_key="stt_wait_median",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda u: _ms(u.latency[STT].median),
    ),
    UsageSensorDescription(
        key="tts_first_audio_last",
        translation_key="tts_first_audio_last",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda u: _ms(u.latency[TTS].last),
    ),
    UsageSensorDescription(
        key="tts_first_audio_median",
        translation_key="tts_first_audio_median",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda u: _ms(u.latency[TTS].median),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WorkersAIConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the account's usage and latency sensors."""
    usage = entry.runtime_data.usage
    async_add_entities(UsageSensor(entry, usage, description) for description in SENSORS)


class UsageSensor(RestoreSensor):
    """One usage or latency figure of the account."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: UsageSensorDescription

    def __init__(
        self,
        entry: WorkersAIConfigEntry,
        usage: AccountUsage,
        description: UsageSensorDescription,
    ) -> None:
        """Attach to the entry's account device."""
        self.entity_description = description
        self.usage = usage
        self._attr_unique_id = f"{entry.entry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            name=entry.title,
            manufacturer=MANUFACTURER,
            model="Workers AI account",
            entry_type=DeviceEntryType.SERVICE,
        )

    @property
    def native_value(self) -> float | None:
        """The current figure."""
        return self.entity_description.value_fn(self.usage)

    @property
    def last_reset(self) -> datetime | None:
        """00:00 UTC today (this month's first day for the monthly cost), for totals."""
        if self.entity_description.state_class is not SensorStateClass.TOTAL:
            return None
        return self.usage.month if self.entity_description.monthly else self.usage.day

    async def async_added_to_hass(self) -> None:
        """Restore the value counted before a restart, then follow the account's usage."""
        await super().async_added_to_hass()
        key = self.entity_description.restore_key
        data = await self.async_get_last_sensor_data() if key else None
        state = await self.async_get_last_state() if key else None
        if key and data is not None and state is not None:
            reset = dt_util.parse_datetime(str(state.attributes.get("last_reset")))
            value = data.native_value
            if reset is not None and isinstance(value, (int, float, Decimal)):
                scale = 60 if key == "stt_seconds_today" else 1  # minutes → seconds
                self.usage.async_restore(key, float(value) * scale, reset)
        self.async_on_remove(self.usage.async_add_listener(self.async_write_ha_state))
