"""Server settings: what the command line decided, as one immutable object."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..workers_ai import catalog
from .failover_config import FailoverOptions
from .limits import Limits

STT_SAMPLE_RATE_HZ = catalog.STT_SAMPLE_RATE_HZ
"""Rate all incoming audio is converted to before it goes to Workers AI (Hz)."""

TTS_WEBSOCKET_SAMPLE_RATE_HZ = catalog.AURA_WEBSOCKET_SAMPLE_RATE_HZ
"""Rate of all TTS audio (Hz): the aura WebSocket default; REST audio (melotts MP3, aura
fallback) is decoded/resampled to it, so a reply keeps one format."""


@dataclass(frozen=True, slots=True)
class FluxOptions:
    """Flux end-of-turn tuning, sent as listen v2 query parameters
    (https://developers.cloudflare.com/workers-ai/models/flux/).

    ``None`` leaves the Workers AI default (eot_threshold 0.7, eot_timeout_ms 5000, no eager EOT).
    """

    eot_threshold: float | None = None
    """End-of-turn confidence that finishes a turn (0.5-0.9)."""
    eager_eot_threshold: float | None = None
    """Confidence for an early EagerEndOfTurn event (0.3-0.9)."""
    eot_timeout_ms: int | None = None
    """Milliseconds after speech after which a turn ends regardless of confidence."""


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Behaviour of every Wyoming connection of this server."""

    stt_model: str
    """Full Workers AI model ID used when ``transcribe`` names no model."""
    tts_voice: str
    """Voice name (catalog ``Voice.name``) used when ``synthesize`` names none."""
    language: str
    """Language used when ``transcribe`` has none (BCP-47 / ISO 639-1)."""
    keyterms: tuple[str, ...] = ()
    """Key terms to boost for nova-3 and flux (Deepgram ``keyterm``)."""
    flux: FluxOptions = field(default_factory=FluxOptions)
    samples_per_chunk: int = 1024
    """Samples per outgoing TTS ``audio-chunk``."""
    stream_timeout: float = 8.0
    """Seconds a WebSocket may stay silent while we wait for it before the request fails."""
    request_deadline: float = 10.0
    """Seconds from ``audio-stop`` to the transcript (streaming STT), retries included."""
    max_utterance_seconds: float = 15.0
    """Seconds of audio after which a flux turn is finished as if ``audio-stop`` had
    come: with flux as default HA does not segment the audio itself, so a turn without speech
    would never end. 15 s is HA's own voice-command timeout. (Every model also stops at
    ``limits.max_audio_seconds``.)"""
    stt_streaming: bool = True
    """Use the nova-3 WebSocket (live ``transcript-chunk`` events) instead of REST."""
    tts_streaming: bool = True
    """Use the aura WebSocket; REST is then only a fallback."""
    spare_websockets: bool = True
    """Open an aura WebSocket ahead of the reply that will need it (speak_spares.py)."""
    limits: Limits = field(default_factory=Limits)
    """Resource limits per event, utterance, connection and process."""
    failover: FailoverOptions = field(default_factory=FailoverOptions)
    """Fallback engines and circuit breakers (failover_config.py)."""
