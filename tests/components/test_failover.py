"""Failover to another Home Assistant STT/TTS entity when Workers AI fails (issue 16).

The failover entities are real Home Assistant entities of a tiny test integration
(``local_voice``): a speech-to-text entity that records the audio it hears and a text-to-speech
entity that records the text it speaks (and answers a 22.05 kHz WAV, like Piper). Workers AI is
the emulator in load mode behind a gate (closed: connection refused) or the wire recorder
(which also records what aura was sent and answered). Requests go through Home Assistant's
public paths: ``/api/stt`` and the TTS media source.
"""

import asyncio
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    MockPlatform,
    mock_config_flow,
    mock_integration,
    mock_platform,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from homeassistant.components import stt, tts
from homeassistant.config_entries import ConfigEntry, ConfigFlow
from homeassistant.const import CONF_LANGUAGE, CONF_MODEL, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.setup import async_setup_component

from custom_components.workers_ai_speech.const import CONF_API_BASE_URL, CONF_VOICE, DOMAIN
from custom_components.workers_ai_speech.failover import (
    CONF_FAILOVER_ENTITY,
    CONF_FAILOVER_FAILURES,
    CONF_FAILOVER_OPEN_SECONDS,
    ISSUE_DEGRADED,
)
from tests.components.test_fault_matrix_ha import Gate
from tests.components.tts_helpers import wav_duration
from tests.wire_recorder import WireRecorder
from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import catalog
from wyoming_server.workers_ai.audio import pcm_to_wav

pytestmark = pytest.mark.usefixtures("internal_url")

LOCAL_STT = "stt.local_stt"
LOCAL_TTS = "tts.local_tts"
STT_ID = "stt.workers_ai_stt_speech_to_text"
TTS_ID = "tts.workers_ai_tts_text_to_speech"
STT_DEGRADED = "binary_sensor.workers_ai_stt_degraded"
TTS_DEGRADED = "binary_sensor.workers_ai_tts_degraded"
HEADERS = {
    "X-Speech-Content": "format=wav; codec=pcm; sample_rate=16000; bit_rate=16; channel=1; "
    "language=en-US"
}
WAV = {tts.ATTR_PREFERRED_FORMAT: "wav"}  # no ffmpeg conversion (none is installed here)
LOCAL_RATE = 22050
LOCAL_SECONDS_PER_CHAR = 0.02
QUOTA = "You have used up your daily free allocation of 10,000 neurons."

TRIGGERS = {
    "cannot_connect": None,  # the gate refuses connections
    "timeout": {"latency_ms": 300_000},
    "stream_dropped": {"ws_drop_after_messages": 1},  # nova-3 had heard part of the audio
    "5xx_after_retries": {"fail_next": 50, "status": 500, "code": 3001, "message": "Internal"},
    "quota": {"fail_next": 50, "status": 429, "code": 4006, "message": QUOTA},
    "account_refusal": {
        "fail_next": 50,
        "status": 403,
        "code": 3023,
        "message": "Service unavailable for account",
    },
}


class LocalSTT(stt.SpeechToTextEntity):
    """A local engine: records every utterance it hears."""

    _attr_name = "Local STT"
    _attr_unique_id = "local_stt"
    supported_languages = ["en"]  # noqa: RUF012 - Home Assistant reads them as attributes
    supported_formats = [stt.AudioFormats.WAV]  # noqa: RUF012
    supported_codecs = [stt.AudioCodecs.PCM]  # noqa: RUF012
    supported_bit_rates = [stt.AudioBitRates.BITRATE_16]  # noqa: RUF012
    supported_sample_rates = [stt.AudioSampleRates.SAMPLERATE_16000]  # noqa: RUF012
    supported_channels = [stt.AudioChannels.CHANNEL_MONO]  # noqa: RUF012

    def __init__(self) -> None:
        self.heard: list[bytes] = []
        self.languages: list[str] = []
        self.fail = False

    async def async_process_audio_stream(
        self, metadata: stt.SpeechMetadata, stream: AsyncIterable[bytes]
    ) -> stt.SpeechResult:
        audio = b"".join([chunk async for chunk in stream])
        self.heard.append(audio)
        self.languages.append(metadata.language)
        if self.fail:
            return stt.SpeechResult(None, stt.SpeechResultState.ERROR)
        return stt.SpeechResult(f"local heard {len(audio)} bytes", stt.SpeechResultState.SUCCESS)


class LocalTTS(tts.TextToSpeechEntity):
    """A local voice: records every text it speaks; answers a 22.05 kHz WAV like Piper."""

    _attr_name = "Local TTS"
    _attr_unique_id = "local_tts"
    _attr_supported_languages = ["en"]  # noqa: RUF012 - Home Assistant's attribute
    _attr_default_language = "en"

    def __init__(self) -> None:
        self.spoken: list[str] = []
        self.fail = False

    async def async_get_tts_audio(
        self, message: str, language: str, options: dict[str, Any]
    ) -> tts.TtsAudioType:
        self.spoken.append(message)
        if self.fail:
            raise HomeAssistantError("the local voice is broken")
        frames = round(len(message) * LOCAL_SECONDS_PER_CHAR * LOCAL_RATE)
        return "wav", pcm_to_wav(b"\x10\x00" * frames, LOCAL_RATE)


def local_seconds(text: str) -> float:
    """Seconds of audio LocalTTS answers for ``text``."""
    return round(len(text) * LOCAL_SECONDS_PER_CHAR * LOCAL_RATE) / LOCAL_RATE


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    """The emulator in load mode (answers at once, without inference), for this module."""
    process = EmulatorProcess(load_mode=True)
    asyncio.run(process.start())
    try:
        yield process
    finally:
        asyncio.run(process.stop())


@pytest.fixture
async def gate(emulator: EmulatorProcess) -> AsyncIterator[Gate]:
    """A gate in front of the emulator, open."""
    gate = Gate(emulator.base_url)
    await gate.open()
    yield gate
    await gate.close()


@pytest.fixture
def entry_data(entry_data: dict[str, str], gate: Gate) -> dict[str, str]:
    """The emulator's credentials, Workers AI reached through the gate."""
    return {**entry_data, CONF_API_BASE_URL: gate.base_url}


@pytest.fixture
def subentries_data() -> list[dict[str, Any]]:
    """nova-3 and aura-2, each with a local failover entity."""
    return [
        {
            "subentry_type": "stt",
            "title": "Workers AI STT",
            "data": {
                CONF_MODEL: catalog.NOVA_3,
                CONF_LANGUAGE: "en",
                CONF_FAILOVER_ENTITY: LOCAL_STT,
            },
            "unique_id": None,
        },
        {
            "subentry_type": "tts",
            "title": "Workers AI TTS",
            "data": {
                CONF_MODEL: catalog.AURA_2_EN,
                CONF_LANGUAGE: "en",
                CONF_VOICE: "luna",
                CONF_FAILOVER_ENTITY: LOCAL_TTS,
            },
            "unique_id": None,
        },
    ]


@pytest.fixture
def config_entry(
    hass: HomeAssistant, entry_data: dict[str, str], subentries_data: list[dict[str, Any]]
) -> MockConfigEntry:
    """The entry, with a breaker that opens after 2 failures for 1 s."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Workers AI test",
        unique_id=entry_data["account_id"],
        data=entry_data,
        options={CONF_FAILOVER_FAILURES: 2, CONF_FAILOVER_OPEN_SECONDS: 1},
        subentries_data=subentries_data,  # type: ignore[arg-type]
    )
    entry.add_to_hass(hass)
    return entry


class LocalFlow(ConfigFlow):
    """The test integration's (unused) config flow."""


@pytest.fixture
async def local(hass: HomeAssistant) -> AsyncIterator[tuple[LocalSTT, LocalTTS]]:
    """The ``local_voice`` integration with its STT and TTS entity, set up."""
    local_stt, local_tts = LocalSTT(), LocalTTS()

    async def setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
        await hass.config_entries.async_forward_entry_setups(entry, ["stt", "tts"])
        return True

    async def add_stt(
        hass: HomeAssistant, entry: ConfigEntry, add: AddConfigEntryEntitiesCallback
    ) -> None:
        add([local_stt])

    async def add_tts(
        hass: HomeAssistant, entry: ConfigEntry, add: AddConfigEntryEntitiesCallback
    ) -> None:
        add([local_tts])

    mock_integration(hass, MockModule("local_voice", async_setup_entry=setup_entry))
    mock_platform(hass, "local_voice.config_flow")
    mock_platform(hass, "local_voice.stt", MockPlatform(async_setup_entry=add_stt))
    mock_platform(hass, "local_voice.tts", MockPlatform(async_setup_entry=add_tts))
    assert await async_setup_component(hass, "stt", {})
    assert await async_setup_component(hass, "tts", {})
    entry = MockConfigEntry(domain="local_voice")
    entry.add_to_hass(hass)
    with mock_config_flow("local_voice", LocalFlow):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert hass.states.get(LOCAL_STT) is not None
        assert hass.states.get(LOCAL_TTS) is not None
        yield local_stt, local_tts


async def _inject(emulator: EmulatorProcess, gate: Gate, trigger: str) -> None:
    settings = TRIGGERS[trigger]
    if settings is None:
        await gate.close()
    else:
        await emulator.set_faults(**settings)


async def _transcribe(client: Any, pcm: bytes) -> dict[str, Any]:
    response = await client.post(f"/api/stt/{STT_ID}", data=pcm, headers=HEADERS)
    assert response.status == 200
    result: dict[str, Any] = await response.json()
    return result


async def _speak(hass: HomeAssistant, message: str) -> bytes:
    media_id = tts.generate_media_source_id(hass, message, engine=TTS_ID, options=WAV, cache=False)
    _, data = await tts.async_get_media_source_audio(hass, media_id)
    return data


async def _model_calls(emulator: EmulatorProcess) -> int:
    counts = await emulator.request_counts(reset=True)
    return sum(sum(by_model.values()) for by_model in counts.values())


@pytest.mark.parametrize("trigger", list(TRIGGERS))
async def test_stt_trigger_replays_whole_recording(
    hass: HomeAssistant,
    local: tuple[LocalSTT, LocalTTS],
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    emulator: EmulatorProcess,
    gate: Gate,
    speech_pcm: bytes,
    trigger: str,
) -> None:
    """Each trigger: the user gets the local engine's transcript of every byte sent."""
    local_stt, _ = local
    client = await hass_client()
    await _inject(emulator, gate, trigger)
    async with asyncio.timeout(30):
        result = await _transcribe(client, speech_pcm)
    assert result == {"text": f"local heard {len(speech_pcm)} bytes", "result": "success"}
    assert local_stt.heard == [speech_pcm]  # the whole recording, in order
    assert local_stt.languages == ["en"]  # en-US → the tag the local engine lists
    assert hass.states.get(STT_DEGRADED).state == STATE_OFF  # one failure: still closed


@pytest.mark.parametrize("trigger", list(TRIGGERS))
async def test_tts_trigger_speaks_with_failover(
    hass: HomeAssistant,
    local: tuple[LocalSTT, LocalTTS],
    setup_entry: MockConfigEntry,
    emulator: EmulatorProcess,
    gate: Gate,
    trigger: str,
) -> None:
    """Each trigger: the local voice speaks the reply, in the stream's 24 kHz WAV."""
    _, local_tts = local
    await _inject(emulator, gate, trigger)
    async with asyncio.timeout(30):
        data = await _speak(hass, "Hello there.")
    assert local_tts.spoken == ["Hello there."]
    assert int.from_bytes(data[24:28], "little") == 24000  # the header aura's stream started
    assert wav_duration(data) == pytest.approx(local_seconds("Hello there."), abs=0.002)


async def test_breaker_opens_probes_and_closes(
    hass: HomeAssistant,
    local: tuple[LocalSTT, LocalTTS],
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    emulator: EmulatorProcess,
    speech_pcm: bytes,
) -> None:
    """K=2 failures open the STT breaker: the next request never reaches Workers AI and is
    answered locally, the Degraded sensor and the repair issue show it; after open_s (1 s)
    one probe reaches Workers AI, its success closes the breaker and clears both."""
    local_stt, _ = local
    client = await hass_client()
    issues = ir.async_get(hass)
    subentry_id = next(
        s.subentry_id for s in setup_entry.subentries.values() if s.subentry_type == "stt"
    )
    issue_id = ISSUE_DEGRADED.format(subentry_id)
    await emulator.set_faults(fail_next=50, status=500, code=3001, message="Internal")
    await emulator.request_counts(reset=True)
    for _ in range(2):
        assert (await _transcribe(client, speech_pcm))["result"] == "success"
    assert await _model_calls(emulator) > 0
    state = hass.states.get(STT_DEGRADED)
    assert state.state == STATE_ON
    assert state.attributes["state"] == "open"
    assert state.attributes["failover_entity"] == LOCAL_STT
    assert issues.async_get_issue(DOMAIN, issue_id) is not None
    assert issues.async_get_issue(DOMAIN, issue_id).severity is ir.IssueSeverity.WARNING
    assert hass.states.get(TTS_DEGRADED).state == STATE_OFF  # one breaker per service

    await emulator.reset_faults()  # Workers AI is back, but the breaker is open
    result = await _transcribe(client, speech_pcm)
    assert result["text"] == f"local heard {len(speech_pcm)} bytes"
    assert await _model_calls(emulator) == 0  # never reached Workers AI
    assert len(local_stt.heard) == 3

    await asyncio.sleep(1.2)  # open_s: the breaker lets one probe through
    await hass.async_block_till_done()
    assert hass.states.get(STT_DEGRADED).attributes["state"] == "half_open"
    result = await _transcribe(client, speech_pcm)
    assert result["text"] == "Turn on the living room light."  # Workers AI's answer
    assert await _model_calls(emulator) == 1
    assert len(local_stt.heard) == 3
    assert hass.states.get(STT_DEGRADED).state == STATE_OFF
    assert issues.async_get_issue(DOMAIN, issue_id) is None


async def test_repair_issue_removed_on_unload(
    hass: HomeAssistant,
    local: tuple[LocalSTT, LocalTTS],
    setup_entry: MockConfigEntry,
    emulator: EmulatorProcess,
) -> None:
    """An open breaker's repair issue goes when the entry unloads."""
    await emulator.set_faults(fail_next=50, status=500, code=3001, message="Internal")
    for message in ("Hello there.", "Hello again."):  # two messages: no cached audio
        await _speak(hass, message)
    issues = ir.async_get(hass)
    assert any(i.startswith("service_degraded_") for (d, i) in issues.issues if d == DOMAIN)
    assert hass.states.get(TTS_DEGRADED).state == STATE_ON
    assert await hass.config_entries.async_unload(setup_entry.entry_id)
    assert not any(i.startswith("service_degraded_") for (d, i) in issues.issues if d == DOMAIN)


@pytest.fixture
def wired_entry_data(entry_data: dict[str, str], wire: WireRecorder) -> dict[str, str]:
    return {**entry_data, CONF_API_BASE_URL: wire.base_url}


def _sentences(texts: list[str]) -> list[str]:
    return [s for t in texts for s in re.split(r"(?<=\.)\s+", t.strip()) if s]


CALIBRATION = "One fish. Two fish. Red fish. Blue fish."
MESSAGE = "One fish. Two fish. Red fish. Gold fish."
"""Same first sentence as CALIBRATION (so as many aura messages), but not Home Assistant's
cached audio of it."""


async def test_tts_continues_from_first_unspoken_sentence(
    hass: HomeAssistant,
    local: tuple[LocalSTT, LocalTTS],
    config_entry: MockConfigEntry,
    wired_entry_data: dict[str, str],
    wire: WireRecorder,
    emulator: EmulatorProcess,
) -> None:
    """Aura drops its WebSocket in the first audio of the second sentence: the local voice
    speaks on from the second (said again whole), none lost, in one playable 24 kHz WAV.
    (A drop before any audio of a sentence is bridged by a new aura WebSocket instead:
    tts_aura_link.py.)"""
    _, local_tts = local
    hass.config_entries.async_update_entry(config_entry, data=wired_entry_data)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    # Calibration without a fault: how many messages aura sends up to the first Flushed.
    await _speak(hass, CALIBRATION)
    [clean] = wire.runs(catalog.AURA_2_EN)
    first_flushed = next(
        i for i, m in enumerate(clean.replies) if isinstance(m, dict) and m.get("type") == "Flushed"
    )
    first_batch_bytes = sum(m for m in clean.replies[:first_flushed] if isinstance(m, int))
    wire.clear()
    await emulator.set_faults(ws_drop_after_messages=first_flushed + 2)
    async with asyncio.timeout(30):
        data = await _speak(hass, MESSAGE)
    [dropped] = wire.runs(catalog.AURA_2_EN)
    speaks = [
        m["text"] for m in dropped.messages if isinstance(m, dict) and m.get("type") == "Speak"
    ]
    flushed = sum(1 for m in dropped.replies if isinstance(m, dict) and m.get("type") == "Flushed")
    assert flushed == 1
    spoken_by_aura = speaks[:flushed]
    assert _sentences(spoken_by_aura) == ["One fish."]
    assert _sentences(spoken_by_aura + local_tts.spoken) == _sentences([MESSAGE])
    assert int.from_bytes(data[24:28], "little") == 24000
    cut = dropped.replies[first_flushed + 1]  # the one frame of the second sentence heard
    assert isinstance(cut, int)
    expected = (first_batch_bytes + cut) / 48000 + sum(local_seconds(t) for t in local_tts.spoken)
    assert wav_duration(data) == pytest.approx(expected, abs=0.005)


async def test_failover_that_fails_is_a_clear_error(
    hass: HomeAssistant,
    local: tuple[LocalSTT, LocalTTS],
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    emulator: EmulatorProcess,
    speech_pcm: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Workers AI and the failover both fail: an STT error result, a translated TTS error."""
    local_stt, local_tts = local
    local_stt.fail = local_tts.fail = True
    await emulator.set_faults(fail_next=50, status=500, code=3001, message="Internal")
    client = await hass_client()
    async with asyncio.timeout(30):
        assert (await _transcribe(client, speech_pcm)) == {"text": None, "result": "error"}
        with pytest.raises(HomeAssistantError) as err:
            await _speak(hass, "Hello there.")
    assert err.value.translation_key == "failover_failed"
    assert f"and so did the failover entity {LOCAL_STT}: it answered with an error" in caplog.text
    assert local_stt.heard == [speech_pcm]
    assert local_tts.spoken == ["Hello there."]


async def test_failover_that_hangs_times_out(
    hass: HomeAssistant,
    local: tuple[LocalSTT, LocalTTS],
    setup_entry: MockConfigEntry,
    emulator: EmulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failover entity that never answers ends in the failover error, not a hang."""
    _, local_tts = local
    monkeypatch.setattr("custom_components.workers_ai_speech.tts_failover.FAILOVER_TIMEOUT", 0.5)

    async def hang(message: str, language: str, options: dict[str, Any]) -> tts.TtsAudioType:
        await asyncio.sleep(3600)
        raise AssertionError

    monkeypatch.setattr(local_tts, "async_get_tts_audio", hang)
    await emulator.set_faults(fail_next=50, status=500, code=3001, message="Internal")
    async with asyncio.timeout(20):
        with pytest.raises(HomeAssistantError) as err:
            await _speak(hass, "Hello there.")
    assert err.value.translation_key == "failover_failed"
