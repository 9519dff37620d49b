"""A local emulator of Cloudflare Workers AI speech models (extra ``emulator``).

Speaks the real wire protocol (workers-ai-speech-api.md): REST ``ai/run`` for every speech
model, the Deepgram WebSocket protocols for nova-3 (listen v1), flux (listen v2) and aura
(speak v1), and ``ai/models/search``. Answers with real local models: Whisper tiny.en for every
ASR model and a Piper voice for every TTS model (each speaker at its own speaking rate, see
:func:`speaker_length_scale`). Faults can be injected in-process or over HTTP.

    async with Emulator() as emu:          # http://127.0.0.1:PORT/client/v4
        emu.faults.fail_next(1, status=429, code=3040)

Known differences from Cloudflare (choices where the doc marks facts UNVERIFIED or unknown):

- Models: Whisper tiny.en (English only) answers for every ASR model; a requested non-English
  ``language`` is reported back but transcribed as English; turbo ``task=translate`` transcribes;
  turbo's default ``beam_size`` is 1 (Cloudflare: 5). One Piper voice speaks for every TTS
  model and speaker (also aura-2-es and non-English melotts), at the speaker's own rate.
- nova-3 answers only the output schema's fields (+ ``punctuated_word``, and
  ``detected_language`` "en" with ``detect_language``); summaries, sentiment, topics, diarize
  are accepted and ignored; ``keyterm``/``keywords`` become Whisper hotwords;
  ``queueRequest=true`` (async batch) is refused with 3010.
- Streaming: nova-3 takes linear16/mulaw/alaw only (no containerized audio); endpointing is
  energy-based with a 300 ms floor (Deepgram's default is 10 ms) and a segment is finalized
  after 10 s without a pause. Flux's end-of-turn confidence is the silence after speech in
  seconds (capped at 1). Deepgram ``Configure``/``ForceEndTurn`` and unknown messages close
  the socket with 1008. The 21st ``Flush`` in 60 s gets a ``Warning`` and is still served.
- Errors: flux over REST → 400/5006; undecodable audio, bad base64 or JSON → 400/3010; a body
  without Content-Length → 411/3003; above 25 MB → 413/3006; unknown paths → 404/7000. The
  token is checked before the account (so 7003 needs a valid token); only
  ``Authorization: Bearer`` is accepted. Non-MP3 aura Content-Types (``audio/wav``...) are
  guesses; aura ``text`` is limited to 2000 characters (Deepgram's limit); melotts ``lang``
  must be one of en, es, fr, zh, ja/jp, ko/kr.
- Network: answers at loopback speed unless the ``rtt_ms`` fault (``--rtt-ms``) is set: then
  one round trip per HTTP request or WebSocket handshake, two more on a new connection, and
  every WebSocket message one round trip after its cause; no jitter, no loss.
- ``cf-ai-neurons`` is sent on successful REST replies, computed from the list price
  ($0.011 per 1,000 neurons); WebSocket handshakes carry none (unknown for Cloudflare).
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
