"""``doctor``: call every model over every transport the project uses, once, and report.

For a user with a real account: it proves (or disproves) that Cloudflare answers as this project
expects, and what each call costs. Each check sends 1.5 s of bundled real speech or a few words
of text; the report lists the result, the latency (connect, first result, total), the neurons
spent (``cf-ai-neurons`` response header) and every deviation. With ``undocumented=True`` it
also tries the WebSocket endpoints Cloudflare's API reference lists without documentation
(https://developers.cloudflare.com/api/resources/ai/methods/run/) and reports whether they speak
the same protocol; those never count as deviations.

No ``wyoming`` or ``homeassistant`` import: used by ``wyoming-workers-ai doctor`` and by the Home
Assistant action ``workers_ai_speech.run_check``.

    async with aiohttp.ClientSession() as s:  # or let run_doctor open its own
        report = await run_doctor(account_id, api_token, models=["nova-3"])
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Final

import aiohttp

from ..workers_ai.catalog import MODELS, USD_PER_1000_NEURONS, SpeechModel, Task, get_model
from ..workers_ai.client import WorkersAIClient
from ..workers_ai.transport import DEFAULT_API_BASE_URL
from ..workers_ai.usage import MELOTTS_CHARACTERS_PER_SECOND, Transport
from .common import AccountUnusable, ProbeContext, Timing, trace_config
from .report import Check, Outcome, Report, mask_account_id
from .rest import probe_rest
from .websocket import HANDSHAKE_ONLY, probe_handshake, probe_listen, probe_speak

SPEECH_FILE: Final = "turn_on_the_living_room_light.wav"
"""Bundled recording (16 kHz mono, 1.5 s; see data/README.md for its licence)."""

TEXTS: Final = {"en": "Hello there.", "es": "Hola a todos."}
"""What the TTS checks say, per language."""

USD_PER_NEURON: Final = USD_PER_1000_NEURONS / 1000
"""Workers AI's price per neuron (the catalog's :data:`USD_PER_1000_NEURONS`)."""

FREE_NEURONS_PER_DAY: Final = 10_000
"""Neurons a day are free on every plan (same page)."""


@dataclass(frozen=True, slots=True)
class Target:
    """One planned call: a model ID, a transport and the protocol to speak."""

    model_id: str
    transport: Transport
    protocol: str  # "rest", "listen-v1", "listen-v2", "speak-v1"
    documented: bool = True


UNDOCUMENTED: Final = (
    Target("@cf/deepgram/aura", Transport.WEBSOCKET, "speak-v1", documented=False),
    Target("@cf/deepgram/aura-2", Transport.WEBSOCKET, "speak-v1", documented=False),
    Target("@cf/deepgram/nova-3-internal", Transport.WEBSOCKET, "listen-v1", documented=False),
    Target("@cf/deepgram/aura-1-internal", Transport.WEBSOCKET, "speak-v1", documented=False),
    Target("@cf/deepgram/nova-3-ws", Transport.WEBSOCKET, "listen-v1", documented=False),
    Target("@cf/deepgram/aura-2-en-ws", Transport.WEBSOCKET, "speak-v1", documented=False),
    Target("@cf/pipecat-ai/smart-turn-v3", Transport.WEBSOCKET, "handshake", documented=False),
    Target(
        "@cf/nvidia/nemotron-speech-streaming-en-0.6b",
        Transport.WEBSOCKET,
        "handshake",
        documented=False,
    ),
)
"""Speech endpoints listed in Cloudflare's API reference
(https://developers.cloudflare.com/api/resources/ai/methods/run/) without a published schema.

The Deepgram-named ones are tried with the protocol their name suggests (listen v1 for nova-3,
speak v1 for aura). For ``smart-turn-v3`` (an end-of-turn model) and ``nemotron-speech-streaming``
(a streaming ASR model) nothing says what they expect: only whether a WebSocket opens is
checked, and the report says the protocol is unknown. None is used by the server or the
component."""


def plan(models: Iterable[str] = (), *, undocumented: bool = False) -> list[Target]:
    """The calls to make: every transport of every catalog model (or of ``models`` only).

    ``models`` are full IDs or short names (``nova-3``); undocumented endpoints are added when
    asked for, filtered by ``models`` too when it is given.

    Raises:
        KeyError: a name in ``models`` is neither a catalog model nor an undocumented endpoint.
    """
    wanted = [name.strip() for name in models if name.strip()]
    extra = {t.model_id: t for t in UNDOCUMENTED}
    selected: list[SpeechModel] = []
    picked_extra: list[Target] = []
    for name in wanted:
        full = name if name.startswith("@cf/") else f"@cf/deepgram/{name}"
        if full in extra:
            picked_extra.append(extra[full])
            continue
        selected.append(get_model(name))
    if not wanted:
        selected = list(MODELS.values())
        picked_extra = list(UNDOCUMENTED) if undocumented else []
    targets: list[Target] = []
    for model in dict.fromkeys(selected):
        if model.rest:
            targets.append(Target(model.model_id, Transport.REST, "rest"))
        if model.websocket:
            protocol = "speak-v1" if model.task is Task.TTS else "listen-v1"
            if model.short_name == "flux":
                protocol = "listen-v2"
            targets.append(Target(model.model_id, Transport.WEBSOCKET, protocol))
    return targets + picked_extra


def load_speech() -> tuple[bytes, int]:
    """The bundled recording as mono s16le PCM and its rate (Hz)."""
    resource = resources.files(__package__).joinpath("data", SPEECH_FILE)
    with resource.open("rb") as file, wave.open(file, "rb") as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate()


def expected_neurons(target: Target, speech_seconds: float) -> float | None:
    """What one call should cost by the catalog's list price (``None`` when not listed)."""
    if not target.documented:
        return None
    model = get_model(target.model_id)
    if model.price is None:
        return None
    neurons = model.price.neurons
    if target.transport is Transport.WEBSOCKET and model.price.websocket_neurons is not None:
        neurons = model.price.websocket_neurons
    if model.task is Task.ASR:
        amount = speech_seconds / 60
    elif model.price.unit == "audio minute":  # melotts: priced by the audio it makes
        amount = len(TEXTS["en"]) / MELOTTS_CHARACTERS_PER_SECOND / 60
    else:
        amount = len(TEXTS.get(model.languages[0], TEXTS["en"])) / 1000
    return neurons * amount


async def run_doctor(
    account_id: str,
    api_token: str,
    *,
    api_base_url: str = DEFAULT_API_BASE_URL,
    models: Iterable[str] = (),
    undocumented: bool = False,
    emulator: bool = False,
    version: str = "",
    on_check: Callable[[Check], None] | None = None,
    gateway_token: str | None = None,
) -> Report:
    """Run every planned check in turn (see :func:`plan`) and return the report.

    Opens its own aiohttp session (new connections, timed by a trace) and closes it. An
    authentication or quota refusal stops the run: the remaining checks are ``skipped``.
    ``on_check`` is called after each check (progress output). ``emulator`` only labels the
    report. ``gateway_token`` is sent as ``cf-aig-authorization`` to an authenticated AI
    Gateway. Never raises for what Workers AI answers; no token enters the report.

    Raises:
        KeyError: unknown model in ``models``.
    """
    targets = plan(models, undocumented=undocumented)
    pcm, rate = await asyncio.to_thread(load_speech)
    seconds = len(pcm) / (2 * rate)
    report = Report(
        api_base_url=api_base_url.rstrip("/"),
        account_id=mask_account_id(account_id),
        emulator=emulator,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        version=version,
        expected_neurons=plan_cost(targets, seconds),
    )
    timing = Timing()
    async with aiohttp.ClientSession(
        trace_configs=[trace_config(timing)],
        connector=aiohttp.TCPConnector(force_close=True),  # every check pays its own connect
    ) as session:
        # The client builds the run URLs the project uses (direct or through an AI Gateway).
        client = WorkersAIClient(
            session, account_id, api_token, api_base_url=api_base_url, gateway_token=gateway_token
        )
        headers = {"Authorization": f"Bearer {api_token.strip()}"}
        if gateway_token:
            headers["cf-aig-authorization"] = f"Bearer {gateway_token.strip()}"
        context = ProbeContext(
            session=session,
            timing=timing,
            run_url=client.run_url,
            websocket_url=client.websocket_url,
            headers=headers,
            speech_pcm=pcm,
            sample_rate=rate,
            texts=TEXTS,
        )
        unusable: str | None = None
        for target in targets:
            check = Check(
                target.model_id,
                target.transport,
                documented=target.documented,
                expected_neurons=expected_neurons(target, seconds),
            )
            if unusable is not None:
                check.outcome = Outcome.SKIPPED
                check.result = f"skipped: {unusable}"
            else:
                try:
                    await _probe(context, target, check)
                except AccountUnusable as err:
                    unusable = str(err)
                if not target.documented:
                    _judge_undocumented(check)
            report.checks.append(check)
            if on_check is not None:
                on_check(check)
    return report


async def _probe(context: ProbeContext, target: Target, check: Check) -> None:
    model = MODELS.get(target.model_id)
    if target.protocol == "rest":
        assert model is not None
        await probe_rest(context, model, check)
    elif target.protocol == "speak-v1":
        await probe_speak(context, target.model_id, model, check)
    elif target.protocol == "handshake":
        await probe_handshake(context, target.model_id, check)
    else:
        await probe_listen(context, target.model_id, check, flux=target.protocol == "listen-v2")


def _judge_undocumented(check: Check) -> None:
    """Undocumented endpoints only say whether they speak the protocol; never a deviation."""
    if check.outcome is Outcome.ERROR:
        check.note("not available: " + check.result)
        check.result = "not available"
    elif check.deviations:
        check.notes.extend(check.deviations)
        check.deviations.clear()
        check.result = "answers, but not in the same protocol"
    elif check.result.startswith(HANDSHAKE_ONLY):
        pass  # opened; what it speaks is not known
    else:
        check.result = "same protocol: " + check.result
    check.outcome = Outcome.OK


def plan_cost(targets: Iterable[Target], speech_seconds: float | None = None) -> float:
    """Expected neurons of ``targets`` by list price (unpriced models count 0)."""
    if speech_seconds is None:
        pcm, rate = load_speech()
        speech_seconds = len(pcm) / (2 * rate)
    return sum(expected_neurons(t, speech_seconds) or 0.0 for t in targets)


def cost_summary(neurons: float) -> str:
    """One line: an expected cost in neurons, dollars and share of the free daily allocation."""
    share = neurons / FREE_NEURONS_PER_DAY * 100
    return (
        f"Expected cost: about {neurons:.1f} neurons "
        f"(${neurons * USD_PER_NEURON:.5f}; {share:.2f} % of the "
        f"{FREE_NEURONS_PER_DAY:,} free neurons a day)"
    )
