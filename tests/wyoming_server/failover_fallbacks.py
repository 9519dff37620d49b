"""In-test Wyoming fallback servers for the failover tests and benchmark.

:class:`FallbackStt` transcribes with the emulator's real Whisper (tiny.en) and records every
utterance it was sent (PCM bytes and rate), so a replay can be checked byte for byte;
:class:`FallbackTts` speaks with the emulator's real Piper voice (22050 Hz) and records every
text it was asked to speak. Both run a ``wyoming.server.AsyncTcpServer`` on a free loopback port
in the caller's event loop. ``fail`` makes them answer ``error`` instead.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import AsrProgram, Attribution, Describe, Info, TtsProgram
from wyoming.server import AsyncEventHandler, AsyncTcpServer
from wyoming.tts import Synthesize

from wyoming_server.emulator import asr, tts

PIPER_RATE_HZ = 22_050
_ME = Attribution(name="test", url="https://github.com/OHF-Voice/wyoming")


@dataclass
class Heard:
    """One utterance a fallback received."""

    pcm: bytes
    rate: int
    width: int
    channels: int
    language: str | None
    text: str = ""


@dataclass
class _State:
    heard: list[Heard] = field(default_factory=list)
    spoken: list[str] = field(default_factory=list)
    fail: bool = False
    delay_s: float = 0.0
    close_after_reply: bool = False


class _SttHandler(AsyncEventHandler):
    def __init__(self, state: _State, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state = state
        self.language: str | None = None
        self.pcm = bytearray()
        self.fmt = (0, 0, 0)

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            program = AsrProgram(
                name="test-whisper", attribution=_ME, installed=True, description=None,
                version=None, models=[],
            )  # fmt: skip
            await self.write_event(Info(asr=[program]).event())
        elif Transcribe.is_type(event.type):
            self.language = Transcribe.from_event(event).language
        elif AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            self.fmt = (start.rate, start.width, start.channels)
            self.pcm.clear()
        elif AudioChunk.is_type(event.type):
            self.pcm += AudioChunk.from_event(event).audio
        elif AudioStop.is_type(event.type):
            heard = Heard(bytes(self.pcm), *self.fmt, self.language)
            self.state.heard.append(heard)
            if self.state.delay_s:
                await asyncio.sleep(self.state.delay_s)
            if self.state.fail:
                await self.write_event(Error(text="fallback broken", code="test").event())
                return False
            samples = np.frombuffer(heard.pcm, dtype=np.int16).astype(np.float32) / 32768
            heard.text = (await asr.transcribe(samples)).text.strip()
            await self.write_event(Transcript(text=heard.text).event())
        return True


class _TtsHandler(AsyncEventHandler):
    def __init__(self, state: _State, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state = state

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            program = TtsProgram(
                name="test-piper", attribution=_ME, installed=True, description=None,
                version=None, voices=[],
            )  # fmt: skip
            await self.write_event(Info(tts=[program]).event())
        elif Synthesize.is_type(event.type):
            text = Synthesize.from_event(event).text
            if self.state.delay_s:
                await asyncio.sleep(self.state.delay_s)
            if self.state.fail:
                await self.write_event(Error(text="fallback broken", code="test").event())
                return True
            self.state.spoken.append(text)
            pcm = await tts.synthesize(text, 1.0)
            fmt = {"rate": PIPER_RATE_HZ, "width": 2, "channels": 1}
            await self.write_event(AudioStart(**fmt).event())
            step = 2048
            for offset in range(0, len(pcm), step):
                await self.write_event(AudioChunk(audio=pcm[offset : offset + step], **fmt).event())
            await self.write_event(AudioStop().event())
            return not self.state.close_after_reply
        return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Fallback:
    handler: type[AsyncEventHandler]

    def __init__(self) -> None:
        self.state = _State()
        self.port = _free_port()
        self._server = AsyncTcpServer("127.0.0.1", self.port)

    @property
    def uri(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def heard(self) -> list[Heard]:
        return self.state.heard

    @property
    def spoken(self) -> list[str]:
        return self.state.spoken

    async def __aenter__(self) -> _Fallback:
        state, handler = self.state, self.handler
        await self._server.start(lambda *args: handler(state, *args))  # type: ignore[call-arg]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._server.stop()


class FallbackStt(_Fallback):
    """A Wyoming speech-to-text server with the emulator's Whisper."""

    handler = _SttHandler


class FallbackTts(_Fallback):
    """A Wyoming text-to-speech server with the emulator's Piper voice."""

    handler = _TtsHandler
