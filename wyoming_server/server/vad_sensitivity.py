"""The ``vad_sensitivity`` of a Wyoming ``transcribe``, as end-of-speech settings of a model.

Wyoming 1.10 added ``Transcribe.vad_sensitivity`` (``"default"``, ``"relaxed"`` or
``"aggressive"``: "how quickly the end of a voice command is detected"; ``VadSensitivity`` in
``wyoming/asr.py``, https://github.com/OHF-Voice/wyoming). Home Assistant's own VAD waits 1.0 s
of silence by default, twice that when relaxed and half when aggressive
(``VadSensitivity.to_seconds`` in
https://github.com/home-assistant/core/blob/dev/homeassistant/components/assist_pipeline/vad.py).
The models that end speech themselves get the same ratios on their own knobs:

- flux (listen v2): ``eot_timeout_ms``, the silence after speech that ends a turn whatever the
  confidence (default 5000, range 500-10000), and ``eot_threshold``, the end-of-turn confidence
  (0.5-0.9, default 0.7; higher waits longer)
  (https://developers.deepgram.com/docs/flux/configuration,
  https://developers.cloudflare.com/workers-ai/models/flux/).
- nova-3 (listen v1): ``endpointing``, the pause in ms before ``speech_final``
  (https://developers.deepgram.com/docs/endpointing). The base is the 300 ms that Cloudflare's
  own voice SDK sends to nova-3 (``endpointing=300``, https://github.com/cloudflare/agents);
  ``"default"`` sends none (the Workers AI default; Deepgram documents 10 ms).

``"default"`` keeps the server's configuration (``--flux-*`` flags, else the Workers AI
defaults). The Whisper models (REST) rely on the client's VAD and ignore it.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from types import MappingProxyType

from wyoming import asr

from ..workers_ai import catalog
from .settings import FluxOptions

_LOGGER = logging.getLogger(__name__)

DEFAULT = "default"
FLUX_EOT_THRESHOLD_RANGE = (0.5, 0.9)
"""Valid ``eot_threshold`` values (https://developers.deepgram.com/docs/flux/configuration)."""
FLUX_EOT_TIMEOUT_MS_RANGE = (500, 10_000)
"""Valid ``eot_timeout_ms`` values (same page)."""


@dataclass(frozen=True, slots=True)
class EndOfSpeech:
    """End-of-speech settings for one sensitivity; ``None`` keeps the server's setting."""

    eot_threshold: float | None = None
    """flux ``eot_threshold`` (0.5-0.9)."""
    eot_timeout_ms: int | None = None
    """flux ``eot_timeout_ms`` (ms)."""
    endpointing_ms: int | None = None
    """nova-3 ``endpointing`` (ms)."""


VAD_SENSITIVITY_TABLE: MappingProxyType[str, EndOfSpeech] = MappingProxyType(
    {
        DEFAULT: EndOfSpeech(),
        # Twice the waiting of the default (HA: 2.0 s vs 1.0 s of silence).
        "relaxed": EndOfSpeech(eot_threshold=0.8, eot_timeout_ms=10_000, endpointing_ms=600),
        # Half the waiting of the default (HA: 0.5 s vs 1.0 s of silence).
        "aggressive": EndOfSpeech(eot_threshold=0.6, eot_timeout_ms=2_500, endpointing_ms=150),
    }
)
"""Wyoming ``vad_sensitivity`` → flux / nova-3 end-of-speech settings (see the module doc)."""


_LOGGED_LIBRARY_LACKS_FIELD: list[bool] = []


def note_library(sensitivity: str | None) -> None:
    """Log once (info) when a client sends ``vad_sensitivity`` that the installed wyoming's
    ``Transcribe`` lacks (wyoming < 1.10): the server reads it from the raw event data."""
    if sensitivity is None or _LOGGED_LIBRARY_LACKS_FIELD:
        return
    if "vad_sensitivity" not in {f.name for f in dataclasses.fields(asr.Transcribe)}:
        _LOGGED_LIBRARY_LACKS_FIELD.append(True)
        _LOGGER.info(
            "The installed wyoming's Transcribe has no vad_sensitivity: read from the event data"
        )


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def lookup(sensitivity: str | None) -> EndOfSpeech:
    """The table entry of ``sensitivity``; absent → default, unknown → default + a warning."""
    if sensitivity is None:
        return VAD_SENSITIVITY_TABLE[DEFAULT]
    entry = VAD_SENSITIVITY_TABLE.get(sensitivity)
    if entry is None:
        _LOGGER.warning(
            "Unknown vad_sensitivity %r (expected one of %s): using %s",
            sensitivity,
            ", ".join(VAD_SENSITIVITY_TABLE),
            DEFAULT,
        )
        return VAD_SENSITIVITY_TABLE[DEFAULT]
    return entry


def flux_options(sensitivity: str | None, configured: FluxOptions) -> FluxOptions:
    """flux's end-of-turn options for ``sensitivity`` over the server's ``configured`` ones.

    Values are clamped to Deepgram's ranges, and ``eager_eot_threshold`` to at most
    ``eot_threshold`` (Deepgram rejects a larger one).
    """
    entry = lookup(sensitivity)
    threshold = entry.eot_threshold if entry.eot_threshold is not None else configured.eot_threshold
    timeout = (
        entry.eot_timeout_ms if entry.eot_timeout_ms is not None else configured.eot_timeout_ms
    )
    if threshold is not None:
        threshold = _clamp(threshold, FLUX_EOT_THRESHOLD_RANGE)
    if timeout is not None:
        timeout = int(_clamp(timeout, FLUX_EOT_TIMEOUT_MS_RANGE))
    eager = configured.eager_eot_threshold
    if eager is not None and threshold is not None and eager > threshold:
        eager = threshold
    options = FluxOptions(
        eot_threshold=threshold, eager_eot_threshold=eager, eot_timeout_ms=timeout
    )
    if options != configured:
        _LOGGER.debug("vad_sensitivity %s: flux %s", sensitivity, dataclasses.asdict(options))
    return options


def nova3_endpointing_ms(sensitivity: str | None) -> int | None:
    """nova-3's ``endpointing`` (ms) for ``sensitivity``; ``None`` sends none."""
    return lookup(sensitivity).endpointing_ms


def streams(model: catalog.SpeechModel, *, streaming: bool) -> bool:
    """Whether ``model`` goes over the WebSocket (flux always, nova-3 with ``streaming``)."""
    return not model.rest or (model.websocket and streaming)


def log_ignored(model: catalog.SpeechModel, sensitivity: str | None) -> None:
    """Debug log: ``model`` over REST ends no speech itself (the client's VAD ends the audio),
    so ``sensitivity`` changes nothing."""
    if sensitivity is not None:
        _LOGGER.debug(
            "%s over REST relies on the client's VAD: vad_sensitivity %r ignored",
            model.model_id,
            sensitivity,
        )
