"""A local emulator of Cloudflare Workers AI speech models (extra ``emulator``).

Speaks the real wire protocol (https://developers.cloudflare.com/workers-ai/models/ and the
Deepgram protocols they wrap): REST ``ai/run`` for every speech
model, the Deepgram WebSocket protocols for nova-3 (listen v1), flux (listen v2) and aura
(speak v1), and ``ai/models/search``. Answers with real local models: Whisper tiny.en for every
ASR model and a Piper voice for every TTS model (each speaker at its own speaking rate, see
:func:`speaker_length_scale`). Faults can be injected in-process or over HTTP.

    async with Emulator() as emu:          # http://127.0.0.1:PORT/client/v4
        emu.faults.fail_next(1, status=429, code=3040)

Where observation overrides the documentation, the emulator follows the observation (live
probes published in https://github.com/xujialiu/Zotero-TTS, notes/NOTES_2026-09-07.md; Deepgram's
https://developers.deepgram.com/docs/flux/close-stream and
https://developers.deepgram.com/docs/tts-ws-flush; https://github.com/cloudflare/agents/issues/1441):
flux closes after ``CloseStream`` without ``EndOfTurn`` and without a close status code; melotts
answers base64 WAV (44.1 kHz mono 16-bit) and refuses ``lang`` es/fr with 404/8002 (upper-case
or missing ``lang``: 500); a wrong account ID gets 401/10000 on ``/ai/run`` and 403/10000 on
``/ai/models/search``; unknown model 400/7000; empty TTS text 400/8007; the aura WebSocket
serves 20 ``Flush`` per 60 s, then answers ``Warning`` and serves no more; nova-3 finalizes
continuous speech every few seconds; flux is English only (``model=flux-general-multi`` and
``language_hint`` are refused with 400/5006, a guess at the answer); every response carries
``cf-ai-neurons``. Faults inject
the rest: 4006/3036 (daily free allocation), 3021 with ``Retry-After``, 5035, 10000, also on
WebSocket handshakes with the v4 JSON body; aura REST ignoring ``encoding``.

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
  energy-based with a 300 ms floor (Deepgram's default is 10 ms); continuous speech is
  finalized after 3 s at the next 100 ms pause, at the latest after 5 s (Deepgram's exact
  cadence is not documented). Flux's end-of-turn confidence is the silence after speech in
  seconds (capped at 1). Deepgram ``Configure``/``ForceEndTurn`` and unknown messages close
  the socket with 1008. The flush limit counts served flushes in a sliding 60 s window (whether
  Deepgram's window slides or resets is not documented); a refused flush's text is dropped.
- Errors: flux over REST → 400/5006; undecodable audio, bad base64 or JSON → 400/3010; a body
  without Content-Length → 411/3003; above 25 MB → 413/3006; unknown paths → 404/7000. The
  token is checked before the account; only ``Authorization: Bearer`` is accepted. The 8007
  and 7000 message texts, the 403 code on the models search for a wrong account, and the
  melotts 500 body are the emulator's (not seen). Non-MP3 aura Content-Types
  (``audio/wav``...) are guesses; aura ``text`` is limited to 2000 characters (Deepgram's
  limit); melotts codes other than es/fr speak English.
- ``cf-ai-neurons``: list prices (per audio minute, per 1,000 characters); ``0`` on errors and
  on WebSocket handshakes (what Cloudflare reports for WebSocket sessions is unknown).
- Network: answers at loopback speed unless the ``rtt_ms`` fault (``--rtt-ms``) is set: then
  one round trip per HTTP request or WebSocket handshake, two more on a new connection, and
  every WebSocket message one round trip after its cause; no jitter, no loss.

May import: the standard library, ``aiohttp``, ``numpy``, PyAV and its local models; nothing
else of :mod:`wyoming_server` (not even the client: it follows the public evidence about
Cloudflare, never our client's reading of it).
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
