"""The Home Assistant pipeline benchmark's measuring code on synthetic cases (not timed).

:mod:`benchmarks.ha_measures` finds where speech ends in a recording, and turns a run's event
arrival times into the figures; a wrong offset or a wrong event would make every published
number wrong without any run failing, so each is checked against a case with a known answer.
"""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from benchmarks.ha_measures import (
    RATE,
    RunClock,
    audio_offset,
    emulator_flux_floor,
    recording_with_silence,
    speech_end_sample,
    stats,
)
from benchmarks.harness import speech_pcm16k, trim_silence


def tone(seconds: float, dbfs: float) -> bytes:
    """A 440 Hz tone at ``dbfs`` RMS, 16 kHz s16le."""
    t = np.arange(int(seconds * RATE)) / RATE
    amplitude = 32768 * 10 ** (dbfs / 20) * np.sqrt(2)
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


def test_speech_end_of_a_tone_followed_by_silence() -> None:
    """1.5 s of -20 dBFS tone then 2 s of -60 dBFS noise: speech ends at sample 24000."""
    pcm = recording_with_silence(tone(1.5, -20), 2.0)
    assert len(pcm) == 2 * int(3.5 * RATE)
    assert speech_end_sample(pcm) == 24000


def test_speech_end_ignores_the_room_noise_after_it() -> None:
    """Noise louder than the default stays below the speech threshold (-38 dBFS)."""
    pcm = recording_with_silence(tone(0.5, -20), 1.0, noise_dbfs=-45)
    assert speech_end_sample(pcm) == 8000


def test_no_speech_is_an_error() -> None:
    with pytest.raises(ValueError, match="no speech"):
        speech_end_sample(recording_with_silence(b"", 1.0))


def test_speech_end_of_the_real_recording() -> None:
    """The benchmark's recording: speech ends within the last 70 ms of the trimmed speech
    (trim_silence keeps 50 ms after the last loud sample; frames are 20 ms)."""
    speech = trim_silence(speech_pcm16k("living_room_light_en.wav"))
    pcm = recording_with_silence(speech, 4.0)
    end = speech_end_sample(pcm)
    speech_samples = len(speech) // 2
    assert speech_samples - int(0.07 * RATE) <= end <= speech_samples + 320


def clock_with(events: list[tuple[float, str, dict[str, object]]]) -> RunClock:
    # Capture starts at t = 100 s; speech ends at sample 32000 = 2 s later.
    return RunClock(t0=100.0, speech_end_sample=32000, events=events, first_audio=103.5)


def test_deltas_from_the_end_of_speech_and_the_reply() -> None:
    clock = clock_with(
        [
            (100.01, "run-start", {}),
            (100.02, "stt-start", {}),
            (102.70, "stt-vad-end", {"timestamp": 2700}),
            (102.90, "stt-end", {"stt_output": {"text": "x"}}),
            (103.00, "intent-start", {}),
            (103.10, "intent-end", {}),
            (103.11, "tts-start", {}),
            (103.12, "tts-end", {}),
        ]
    )
    assert clock.speech_end == pytest.approx(102.0)
    assert clock.deltas() == {
        "stt_end_after_speech_end": pytest.approx(0.9),
        "vad_end_after_speech_end": pytest.approx(0.7),
        "first_audio_after_first_sentence": pytest.approx(0.4),
    }
    assert clock.first_sentence() == (103.10, "intent-end")


def test_streamed_reply_text_starts_the_tts_clock() -> None:
    """An agent that streams: the first assistant text in intent-progress, not intent-end;
    a delta of another role (the user's, a tool's) does not count."""
    clock = clock_with(
        [
            (102.5, "stt-end", {}),
            (102.6, "intent-progress", {"chat_log_delta": {"role": "user", "content": "hi"}}),
            (102.7, "intent-progress", {"chat_log_delta": {"role": "assistant"}}),
            (102.8, "intent-progress", {"chat_log_delta": {"content": "Turned on"}}),
            (103.3, "intent-end", {}),
        ]
    )
    assert clock.first_sentence() == (102.8, "intent-progress")
    assert clock.deltas()["first_audio_after_first_sentence"] == pytest.approx(0.7)
    assert clock.deltas()["vad_end_after_speech_end"] is None


def wav_head() -> bytes:
    with io.BytesIO() as buffer:
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(24000)
        return buffer.getvalue()


def test_first_audio_byte_after_the_headers() -> None:
    head = wav_head()
    assert audio_offset(head[:20]) is None
    assert audio_offset(head) == 44  # may equal the length: no audio byte yet
    # ID3v2 tag of 0x0101 = 129 bytes (syncsafe), then an MPEG frame sync.
    id3 = b"ID3\x04\x00\x00\x00\x00\x01\x01" + b"\xff" * 1 + b"\x00" * 128
    assert audio_offset(id3) is None  # the tag's 0xFF is not a frame
    assert audio_offset(id3 + b"\xff\xfb\x90\x00") == 139
    assert audio_offset(b"\xff\xf3\x00") == 0


def test_stats() -> None:
    assert stats([0.3, None, 0.1, 0.2]) == {
        "runs": 3,
        "median_ms": 200.0,
        "min_ms": 100.0,
        "max_ms": 300.0,
    }
    assert stats([None])["runs"] == 0


def test_emulator_flux_floor_is_the_next_tick_past_the_end_of_turn() -> None:
    """Speech ends at 1.32 s; 0.7 s later is 2.02 s; ticks of 0.24 s fall at 1.92 and 2.16 s,
    so the emulator's EndOfTurn cannot come before 0.84 s after the end of speech."""
    assert emulator_flux_floor(21120, 0.7, 3840) == pytest.approx(0.84)
    # A due time exactly on a tick is that tick, not the next one.
    assert emulator_flux_floor(3840, 0.72, 3840) == pytest.approx(0.72)
