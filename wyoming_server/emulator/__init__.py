"""A local emulator of Cloudflare Workers AI speech models (extra ``emulator``).

Speaks the real wire protocol (workers-ai-speech-api.md): REST ``ai/run`` for every speech
model, the Deepgram WebSocket protocols for nova-3 (listen v1), flux (listen v2) and aura
(speak v1), and ``ai/models/search``. Answers with real local models: Whisper tiny.en for every
ASR model and a Piper voice for every TTS model (each speaker at its own speaking rate, see
:func:`speaker_length_scale`). Faults can be injected in-process or over HTTP.

    async with Emulator() as emu:          # http://127.0.0.1:PORT/client/v4
        emu.faults.fail_next(1, status=429, code=3040)
"""

from __future__ import annotations

from .config import DEFAULT_ACCOUNT_ID, DEFAULT_API_TOKEN, DEFAULT_PORT
from .faults import Faults
from .process import EmulatorProcess
from .server import Emulator
from .voices import speaker_length_scale

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_API_TOKEN",
    "DEFAULT_PORT",
    "Emulator",
    "EmulatorProcess",
    "Faults",
    "speaker_length_scale",
]
