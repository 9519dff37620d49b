"""The engines a failover uses: another Wyoming server, or another Workers AI model.

Wyoming event flows ("Event Flow" in https://github.com/OHF-Voice/wyoming, README): speech to
text is ``transcribe``, ``audio-start``, ``audio-chunk``*, ``audio-stop`` answered by
``transcript`` (wyoming-faster-whisper, speech-to-phrase); text to speech is ``synthesize``
answered by ``audio-start``, ``audio-chunk``*, ``audio-stop`` (wyoming-piper). A server may
answer ``error`` instead. Every call is bounded by the fallback's own timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.tts import Synthesize

from ..workers_ai import WorkersAIClient, catalog
from ..workers_ai.errors import WorkersAIError

STT_CHUNK_BYTES = 2048
"""Bytes of 16 kHz PCM per replayed ``audio-chunk`` (64 ms, as Home Assistant sends)."""
REPLY_RATE_HZ = catalog.AURA_WEBSOCKET_SAMPLE_RATE_HZ
"""Rate asked of Workers AI voices (the server's TTS rate)."""

PcmPieces = AsyncIterator[tuple[bytes, int, int, int]]
"""``(pcm, rate Hz, width bytes, channels)`` pieces of one sentence's audio, in order."""


class FallbackError(Exception):
    """A fallback engine failed (refused, closed, answered ``error``, or too slow)."""


class SttEngine(Protocol):
    """Transcribes a whole utterance."""

    name: str

    async def transcribe(self, pcm: bytes, rate: int, language: str | None) -> str:
        """The transcript of s16le mono ``pcm`` at ``rate`` Hz; raises :class:`FallbackError`."""
        ...


class TtsEngine(Protocol):
    """Speaks one reply, sentence by sentence."""

    name: str

    def session(self) -> TtsSession:
        """A session for one reply (close it with ``aclose``)."""
        ...


class TtsSession(Protocol):
    """One reply on a fallback voice."""

    def speak(self, text: str) -> PcmPieces:
        """The audio of ``text``; raises :class:`FallbackError`."""
        ...

    async def aclose(self) -> None:
        """Close the connection (idempotent)."""
        ...


class WyomingSttEngine:
    """Another Wyoming speech-to-text server, one connection per utterance."""

    def __init__(self, uri: str, timeout: float) -> None:
        """``uri``: ``tcp://host:port`` or ``unix:///path``; ``timeout`` in seconds for the
        whole exchange (connect, replay, transcript)."""
        self.name = uri
        self.timeout = timeout

    async def transcribe(self, pcm: bytes, rate: int, language: str | None) -> str:
        """Replay ``pcm`` whole and return the ``transcript`` text."""
        try:
            async with asyncio.timeout(self.timeout), AsyncClient.from_uri(self.name) as client:
                await client.write_event(Transcribe(language=language).event())
                await client.write_event(AudioStart(rate=rate, width=2, channels=1).event())
                for offset in range(0, len(pcm), STT_CHUNK_BYTES):
                    chunk = pcm[offset : offset + STT_CHUNK_BYTES]
                    await client.write_event(
                        AudioChunk(rate=rate, width=2, channels=1, audio=chunk).event()
                    )
                await client.write_event(AudioStop().event())
                while True:
                    event = await client.read_event()
                    if event is None:
                        raise FallbackError(f"{self.name} closed the connection")
                    if Transcript.is_type(event.type):
                        return Transcript.from_event(event).text
                    if Error.is_type(event.type):
                        raise FallbackError(f"{self.name}: {Error.from_event(event).text}")
        except TimeoutError:
            raise FallbackError(f"{self.name} did not answer within {self.timeout:g} s") from None
        except OSError as err:
            raise FallbackError(f"cannot reach {self.name}: {err}") from err


class WorkersAISttEngine:
    """Another Workers AI speech-to-text model over REST (e.g. nova-3 -> whisper-large-v3-turbo)."""

    def __init__(self, client: WorkersAIClient, model_id: str, timeout: float) -> None:
        """``timeout``: seconds for the upload and answer."""
        self.client = client
        self.name = model_id
        self.timeout = timeout

    async def transcribe(self, pcm: bytes, rate: int, language: str | None) -> str:
        """Upload ``pcm`` once and return the text."""
        try:
            async with asyncio.timeout(self.timeout):
                result = await self.client.transcribe_pcm(self.name, pcm, rate, language=language)
        except TimeoutError:
            raise FallbackError(f"{self.name} did not answer within {self.timeout:g} s") from None
        except WorkersAIError as err:
            raise FallbackError(f"{self.name}: {err}") from err
        return result.text


class WyomingTtsEngine:
    """Another Wyoming text-to-speech server: one connection per reply, one ``synthesize``
    per sentence, its default voice."""

    def __init__(self, uri: str, timeout: float) -> None:
        """``timeout``: seconds to connect, and to wait for each audio event."""
        self.name = uri
        self.timeout = timeout

    def session(self) -> _WyomingTtsSession:
        """A session for one reply."""
        return _WyomingTtsSession(self)


class _WyomingTtsSession:
    def __init__(self, engine: WyomingTtsEngine) -> None:
        self._engine = engine
        self._client: AsyncClient | None = None

    async def _connect(self) -> AsyncClient:
        if self._client is None:
            client = AsyncClient.from_uri(self._engine.name)
            async with asyncio.timeout(self._engine.timeout):
                await client.connect()
            self._client = client
        return self._client

    async def _first_event(self, text: str) -> tuple[AsyncClient, Event | None]:
        """Send ``synthesize``; the first answer. A reused connection the server closed after
        its last reply (EOF, reset) is replaced once by a new one."""
        retry = self._client is not None
        while True:
            client = await self._connect()
            try:
                await client.write_event(Synthesize(text=text).event())
                async with asyncio.timeout(self._engine.timeout):
                    event = await client.read_event()
            except OSError:
                if not retry:
                    raise
                event = None
            if event is not None or not retry:
                return client, event
            retry = False
            await self.aclose()

    async def speak(self, text: str) -> PcmPieces:
        name, timeout = self._engine.name, self._engine.timeout
        try:
            client, event = await self._first_event(text)
            while True:
                if event is None:
                    raise FallbackError(f"{name} closed the connection")
                if AudioChunk.is_type(event.type):
                    chunk = AudioChunk.from_event(event)
                    yield chunk.audio, chunk.rate, chunk.width, chunk.channels
                elif AudioStop.is_type(event.type):
                    return
                elif Error.is_type(event.type):
                    raise FallbackError(f"{name}: {Error.from_event(event).text}")
                async with asyncio.timeout(timeout):
                    event = await client.read_event()
        except TimeoutError:
            await self.aclose()
            raise FallbackError(f"{name} did not answer within {timeout:g} s") from None
        except OSError as err:
            await self.aclose()
            raise FallbackError(f"cannot reach {name}: {err}") from err

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.disconnect()


class WorkersAITtsEngine:
    """Another Workers AI voice over REST (e.g. aura-2 -> melotts-en)."""

    def __init__(self, client: WorkersAIClient, voice: str, timeout: float) -> None:
        """``voice``: a catalog voice name; ``timeout``: seconds per sentence."""
        self.client = client
        self.voice = catalog.get_voice(voice)
        self.name = voice
        self.timeout = timeout

    def session(self) -> _WorkersAITtsSession:
        """A session for one reply (REST: nothing to keep open)."""
        return _WorkersAITtsSession(self)


class _WorkersAITtsSession:
    def __init__(self, engine: WorkersAITtsEngine) -> None:
        self._engine = engine

    async def speak(self, text: str) -> PcmPieces:
        engine = self._engine
        try:
            async with asyncio.timeout(engine.timeout):
                result = await engine.client.synthesize_pcm(
                    engine.voice.model_id,
                    text,
                    speaker=engine.voice.speaker,
                    language=engine.voice.language,
                    sample_rate=REPLY_RATE_HZ,
                )
        except TimeoutError:
            raise FallbackError(
                f"{engine.name} did not answer within {engine.timeout:g} s"
            ) from None
        except WorkersAIError as err:
            raise FallbackError(f"{engine.name}: {err}") from err
        yield result.pcm, result.sample_rate, 2, 1

    async def aclose(self) -> None:
        return None
