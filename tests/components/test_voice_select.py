"""The voice select: it changes the voice heard, the TTS cache key, and survives restarts."""

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_mock_service
from tts_helpers import TTS_ENTITY_ID, cache_keys, get_tts_audio, wav_duration

from homeassistant.components import tts
from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.const import ATTR_ENTITY_ID, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from custom_components.workers_ai_speech.const import ATTR_SELECTED_VOICE, CONF_VOICE
from wyoming_server.emulator import speaker_length_scale
from wyoming_server.workers_ai import catalog

pytestmark = pytest.mark.usefixtures("internal_url")

SELECT_ID = "select.workers_ai_tts_voice"
WAV = {tts.ATTR_PREFERRED_FORMAT: "wav"}
MESSAGE = "This sentence is long enough to hear the speaking rate of a voice."


def _other_speaker(than: str) -> str:
    """The aura-2-en speaker whose emulated speaking rate differs most from ``than``'s."""
    scale = speaker_length_scale(catalog.AURA_2_EN, than)
    return max(
        catalog.AURA_2_EN_SPEAKERS,
        key=lambda s: abs(speaker_length_scale(catalog.AURA_2_EN, s) - scale),
    )


async def _select(hass: HomeAssistant, option: str) -> None:
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: SELECT_ID, ATTR_OPTION: option},
        blocking=True,
    )


async def test_select_entity(
    hass: HomeAssistant, setup_entry: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """A config entity named "Voice" offering the model's speakers, the configured one chosen."""
    state = hass.states.get(SELECT_ID)
    assert state.state == "luna"
    assert state.attributes["options"] == sorted(catalog.AURA_2_EN_SPEAKERS)
    assert state.attributes["friendly_name"] == "Workers AI TTS Voice"
    entry = entity_registry.async_get(SELECT_ID)
    assert entry.entity_category is EntityCategory.CONFIG
    assert entry.translation_key == "voice"
    assert entry.unique_id.endswith("-voice")


async def test_selected_voice_is_heard_and_changes_the_cache_key(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """Choosing another voice re-synthesizes (new cache key, other speaking rate), and back;
    the entity's voice list never reorders."""
    other = _other_speaker("luna")
    luna_scale = speaker_length_scale(catalog.AURA_2_EN, "luna")
    other_scale = speaker_length_scale(catalog.AURA_2_EN, other)
    entity = hass.data[tts.DATA_COMPONENT].get_entity(TTS_ENTITY_ID)
    voices = entity.async_get_supported_voices("en")

    _, luna_audio = await get_tts_audio(hass, MESSAGE, options=WAV)
    keys_luna = cache_keys(hass)

    await _select(hass, other)
    assert hass.states.get(SELECT_ID).state == other
    assert entity.default_options[ATTR_SELECTED_VOICE] == other
    assert entity.async_get_supported_voices("en") == voices

    _, other_audio = await get_tts_audio(hass, MESSAGE, options=WAV)
    keys_both = cache_keys(hass)
    assert len(keys_both - keys_luna) == 1  # a new cache entry, not the old audio replayed
    assert (wav_duration(other_audio) > wav_duration(luna_audio)) == (other_scale > luna_scale)
    ratio = wav_duration(other_audio) / wav_duration(luna_audio)
    assert abs(ratio - other_scale / luna_scale) < 0.25 * other_scale / luna_scale

    await _select(hass, "luna")
    _, luna_again = await get_tts_audio(hass, MESSAGE, options=WAV)
    assert cache_keys(hass) == keys_both  # served from the first entry
    assert luna_again == luna_audio


async def test_invalid_option_is_refused(hass: HomeAssistant, setup_entry: MockConfigEntry) -> None:
    """Only the model's speakers can be selected."""
    with pytest.raises(Exception, match="aquila"):
        await _select(hass, "aquila")
    assert hass.states.get(SELECT_ID).state == "luna"


async def test_choice_is_the_services_voice_and_survives_a_restart(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """The select stores the service's voice (one source of truth), without reloading the
    entry; after a restart (reload) the same voice is selected and spoken."""
    subentry_id = next(
        s.subentry_id for s in setup_entry.subentries.values() if s.subentry_type == "tts"
    )
    entity = hass.data[tts.DATA_COMPONENT].get_entity(TTS_ENTITY_ID)
    await _select(hass, "orion")
    await hass.async_block_till_done()
    assert setup_entry.subentries[subentry_id].data[CONF_VOICE] == "orion"
    assert hass.data[tts.DATA_COMPONENT].get_entity(TTS_ENTITY_ID) is entity  # no reload

    assert await hass.config_entries.async_reload(setup_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(SELECT_ID).state == "orion"
    entity = hass.data[tts.DATA_COMPONENT].get_entity(TTS_ENTITY_ID)
    assert entity.default_options[ATTR_SELECTED_VOICE] == "orion"


async def test_stored_voice_the_model_lacks_falls_back_to_the_default(
    hass: HomeAssistant, config_entry: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """A stored voice the model does not have (aquila is aura-2-es) gives the model's default
    voice, with a log line, instead of failing."""
    subentry = next(s for s in config_entry.subentries.values() if s.subentry_type == "tts")
    hass.config_entries.async_update_subentry(
        config_entry, subentry, data={**subentry.data, CONF_VOICE: "aquila"}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(SELECT_ID).state == "luna"
    entity = hass.data[tts.DATA_COMPONENT].get_entity(TTS_ENTITY_ID)
    assert entity.default_options[ATTR_SELECTED_VOICE] == "luna"
    assert "has no voice 'aquila'" in caplog.text


async def test_tts_speak_without_a_voice_uses_the_select(
    hass: HomeAssistant, setup_entry: MockConfigEntry
) -> None:
    """The tts.speak action in US English, no voice given: spoken by the select's voice."""
    calls = async_mock_service(hass, "media_player", "play_media")

    async def speak() -> float:
        await hass.services.async_call(
            "tts",
            "speak",
            {
                ATTR_ENTITY_ID: TTS_ENTITY_ID,
                "media_player_entity_id": "media_player.kitchen",
                "message": MESSAGE,
                "language": "en-US",
                "options": WAV,
            },
            blocking=True,
        )
        media_id = calls[-1].data["media_content_id"]
        _, audio = await tts.async_get_media_source_audio(hass, media_id)
        return wav_duration(audio)

    luna = await speak()
    other = _other_speaker("luna")
    await _select(hass, other)
    changed = await speak()
    expected = speaker_length_scale(catalog.AURA_2_EN, other) / speaker_length_scale(
        catalog.AURA_2_EN, "luna"
    )
    assert (changed > luna) == (expected > 1)
    assert abs(changed / luna - 1) > 0.08
