"""Vocabulary: are a home's unusual device and area names heard right, without and with hints?

A test home (below) has devices and areas with names generic speech models mishear. Each of
the spoken commands names one or two of them. The commands are synthesized by the emulator's
TTS (its Piper voice: deterministic, so every run hears the same audio), then transcribed by
the client through the emulator's ASR (Whisper tiny.en) twice: without hints, and with the
home's vocabulary built by :mod:`wyoming_server.workers_ai.vocabulary` (nova-3 and flux:
``keyterm`` → faster-whisper ``hotwords``; whisper-large-v3-turbo: ``initial_prompt``).

A name counts as right when its folded form (case, accents, punctuation and a possessive "'s"
ignored) appears in the folded transcript. The emulator's Whisper tiny.en stands in for the real
models, so the numbers show that the hints reach the model and how much a small model gains;
they do not predict nova-3's own accuracy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aiohttp

from wyoming_server.emulator import EmulatorProcess
from wyoming_server.workers_ai import WorkersAIClient, catalog
from wyoming_server.workers_ai.vocabulary import Source, Term, build_vocabulary, fold

AREAS = (
    "plantuary", "kitchen west", "Saoirse's room", "the snug", "orangery", "scullery",
    "Niamh's study", "oriel", "boot room", "Dagny's loft",
)  # fmt: skip
DEVICES = (
    "Réaltín's lamp", "Zephyr fan", "Nimbus humidifier", "Quokka nightlight", "Bramble lights",
    "Ottoline's heater", "Mjolnir charger", "Hygge lamp", "Kettlebot", "Tamsin's desk lamp",
    "Lumos strip", "Aoife's speaker", "Pomodoro clock", "Gizmo vacuum", "Cthulhu aquarium",
    "Wintergreen diffuser", "Yggdrasil tree lights", "Solaris blind",
)  # fmt: skip
FLOORS = ("Mezzanine", "Cellar")

COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Turn on Réaltín's lamp.", ("Réaltín's lamp",)),
    ("Turn off the lights in the plantuary.", ("plantuary",)),
    ("Turn on the Zephyr fan in kitchen west.", ("Zephyr fan", "kitchen west")),
    ("Dim the lights in Saoirse's room.", ("Saoirse's room",)),
    ("Switch on the Nimbus humidifier.", ("Nimbus humidifier",)),
    ("Turn off the Quokka nightlight.", ("Quokka nightlight",)),
    ("Turn on Ottoline's heater in the scullery.", ("Ottoline's heater", "scullery")),
    ("Is the Mjolnir charger on?", ("Mjolnir charger",)),
    ("Turn on the Hygge lamp in Niamh's study.", ("Hygge lamp", "Niamh's study")),
    ("Start the Kettlebot.", ("Kettlebot",)),
    ("Turn off Tamsin's desk lamp.", ("Tamsin's desk lamp",)),
    ("Set the Lumos strip to blue.", ("Lumos strip",)),
    ("Pause Aoife's speaker.", ("Aoife's speaker",)),
    ("Start the Pomodoro clock.", ("Pomodoro clock",)),
    ("Send the Gizmo vacuum to the boot room.", ("Gizmo vacuum", "boot room")),
    ("Turn on the Cthulhu aquarium light.", ("Cthulhu aquarium",)),
    ("Turn off the Wintergreen diffuser.", ("Wintergreen diffuser",)),
    ("Turn on the Yggdrasil tree lights.", ("Yggdrasil tree lights",)),
    ("Close the Solaris blind in the orangery.", ("Solaris blind", "orangery")),
    ("Turn on the Bramble lights in the snug.", ("Bramble lights", "the snug")),
    ("What is the temperature in the orangery?", ("orangery",)),
    ("Turn off all the lights in Dagny's loft.", ("Dagny's loft",)),
    ("Turn on the lights in the oriel.", ("oriel",)),
    ("Is the scullery window open?", ("scullery",)),
    ("Turn off everything on the Mezzanine.", ("Mezzanine",)),
    ("Turn on the lights in the Cellar.", ("Cellar",)),
    ("Set Saoirse's room to twenty degrees.", ("Saoirse's room",)),
    ("Turn off the Nimbus humidifier in Niamh's study.", ("Nimbus humidifier", "Niamh's study")),
    ("Open the Solaris blind.", ("Solaris blind",)),
    ("Turn on the Quokka nightlight in Dagny's loft.", ("Quokka nightlight", "Dagny's loft")),
    ("Turn off Réaltín's lamp in the snug.", ("Réaltín's lamp", "the snug")),
    ("Is the plantuary warm enough?", ("plantuary",)),
)

MODELS = (catalog.NOVA_3, catalog.FLUX, catalog.WHISPER_LARGE_V3_TURBO)
VOICE = (catalog.AURA_2_EN, "luna")


def home_terms() -> list[Term]:
    """The test home's vocabulary, as the component or the server would gather it."""
    return (
        [Term(name, Source.AREA) for name in AREAS]
        + [Term(name, Source.FLOOR) for name in FLOORS]
        + [Term(name, Source.ENTITY) for name in DEVICES]
    )


def folded_words(text: str) -> str:
    """Folded text for matching: possessive "'s" dropped, punctuation as spaces."""
    text = re.sub(r"['\u2019]s\b", "", fold(text))
    text = re.sub(r"\bthe\b", " ", text)
    return " ".join(re.sub(r"[^\w ]+", " ", text).split())


def name_heard(name: str, transcript: str) -> bool:
    """True when ``name`` (folded) is a whole-word part of ``transcript`` (folded)."""
    return f" {folded_words(name)} " in f" {folded_words(transcript)} "


@dataclass
class _Tally:
    names: int = 0
    right_without: int = 0
    right_with: int = 0
    fixed: int = 0
    lost: int = 0

    def as_dict(self) -> dict[str, Any]:
        missed = self.names - self.right_without
        return {
            "names": self.names,
            "right_without": self.right_without,
            "right_with": self.right_with,
            "missed_without": missed,
            "fixed_by_vocabulary": self.fixed,
            "lost_with_vocabulary": self.lost,
            "share_of_misses_fixed": round(self.fixed / missed, 3) if missed else None,
            "meets_target": (missed == 0 or self.fixed * 2 >= missed) and self.lost == 0,
        }


async def run(emu: EmulatorProcess) -> dict[str, Any]:
    """Transcribe every command with each model, without and with the vocabulary."""
    vocabulary = build_vocabulary(home_terms())
    results: dict[str, Any] = {
        "commands": len(COMMANDS),
        "names": sum(len(names) for _, names in COMMANDS),
        "vocabulary": vocabulary.as_dict(),
        "asr_engine": "emulator: Whisper tiny.en (faster-whisper, greedy, temperature 0)",
        "voice": f"{VOICE[0]} {VOICE[1]} (emulator: Piper en_US-joe-medium)",
        "models": {},
    }
    async with aiohttp.ClientSession() as session:
        client = WorkersAIClient(
            session, emu.account_id, emu.api_token, api_base_url=emu.base_url, deadline=60.0
        )
        audio = [
            (await client.synthesize_pcm(VOICE[0], text, speaker=VOICE[1], sample_rate=16000)).pcm
            for text, _ in COMMANDS
        ]
        for model in MODELS:
            tally = _Tally()
            rows = []
            for (text, names), pcm in zip(COMMANDS, audio, strict=True):
                plain = await client.transcribe_pcm(model, pcm, 16000, language="en")
                hinted = await client.transcribe_pcm(
                    model, pcm, 16000, language="en", **vocabulary.request_options(model)
                )
                for name in names:
                    before = name_heard(name, plain.text)
                    after = name_heard(name, hinted.text)
                    tally.names += 1
                    tally.right_without += before
                    tally.right_with += after
                    tally.fixed += after and not before
                    tally.lost += before and not after
                rows.append({"said": text, "without": plain.text, "with": hinted.text})
            summary = tally.as_dict()
            results["models"][model] = {**summary, "transcripts": rows}
            print(
                f"  {model}: names right {summary['right_without']}/{summary['names']} without, "
                f"{summary['right_with']}/{summary['names']} with the vocabulary "
                f"({summary['fixed_by_vocabulary']} of {summary['missed_without']} misses fixed, "
                f"{summary['lost_with_vocabulary']} lost)"
            )
    return results
