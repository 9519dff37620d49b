"""The calls ``doctor`` makes, one per model and transport, and what each checks.

- :mod:`.doctor_common`: where to call, timing, refusals, transcript checks;
- :mod:`.doctor_rest`: one POST per model;
- :mod:`.doctor_websocket`: nova-3 and flux (listen), aura (speak).

This module keeps the names importable from where they always were.
"""

from __future__ import annotations

from .common import (
    CALL_TIMEOUT,
    EXPECTED_WORDS,
    FRAME_MS,
    TTS_SAMPLE_RATE,
    AccountUnusable,
    ProbeContext,
    Timing,
    sniff_container,
    trace_config,
)
from .rest import probe_rest
from .websocket import probe_listen, probe_speak

__all__ = [
    "CALL_TIMEOUT",
    "EXPECTED_WORDS",
    "FRAME_MS",
    "TTS_SAMPLE_RATE",
    "AccountUnusable",
    "ProbeContext",
    "Timing",
    "probe_listen",
    "probe_rest",
    "probe_speak",
    "sniff_container",
    "trace_config",
]
