"""The Workers AI client against what Workers AI really does where the Wyoming server cannot
show it: close codes after ``Metadata``, a close without handshake, the aura flush ``Warning``,
AI Gateway URLs and headers, refused handshakes' bodies, ``cf-ai-neurons``.

Behaviour the emulator does not produce (a close code after ``Metadata``, a peer that never
answers the closing handshake, a gateway) comes from small aiohttp servers in this file.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web

from tests.wyoming_server.client_helpers import emulator_client
from wyoming_server.emulator import Emulator
from wyoming_server.workers_ai import WorkersAIClient, errors
from wyoming_server.workers_ai.speak import FLUSH_LIMIT

ACCOUNT = "a" * 32
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class FakeServer:
    """One aiohttp app on a free loopback port; ``requests`` records what came in."""

    handler: Handler
    requests: list[web.Request] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def record(request: web.Request) -> web.StreamResponse:
            self.requests.append(request)
            return await self.handler(request)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def serve(handler: Handler) -> AsyncIterator[tuple[FakeServer, WorkersAIClient]]:
    fake = FakeServer(handler)
    await fake.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield (
                fake,
                WorkersAIClient(
                    session, ACCOUNT, "token", api_base_url=f"{fake.url}/client/v4", deadline=5
                ),
            )
    finally:
        await fake.stop()


async def close_without_code(ws: web.WebSocketResponse) -> None:
    """A close frame with no status code (as Flux sends), and no closing handshake."""
    writer: Any = ws._writer
    await writer.send_frame(b"", WSMsgType.CLOSE)


def results(text: str) -> dict[str, Any]:
    return {
        "type": "Results",
        "is_final": True,
        "speech_final": False,
        "channel": {"alternatives": [{"transcript": text, "words": []}]},
    }


# -- nova-3: the transcript is complete at Metadata ----------------------------------------


@pytest.mark.parametrize("close_code", [1011, 1006])
async def test_nova_3_transcript_is_complete_at_metadata_whatever_close_follows(
    close_code: int,
) -> None:
    async def nova(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT and json.loads(msg.data)["type"] == "CloseStream":
                await ws.send_json(results("turn on the light"))
                await ws.send_json({"type": "Metadata", "request_id": "x", "duration": 1.0})
                if close_code == 1006:  # the TCP connection drops without a close frame
                    assert request.transport is not None
                    request.transport.abort()
                else:
                    await ws.close(code=close_code)
                break
        return ws

    async for _, client in serve(nova):
        async with client.listen("nova-3", sample_rate=16000) as session:
            await session.send_audio(bytes(3200))
            result = await session.finish(timeout=5)
        assert result.text == "turn on the light"


# -- flux: a close without code, and without a closing handshake -------------------------------


async def test_flux_transcript_does_not_wait_for_the_closing_handshake() -> None:
    """Flux closes after CloseStream without a code; the last Update is the transcript, and
    the client does not wait for a closing handshake the peer never completes."""
    hold = asyncio.Event()

    async def flux(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "Connected", "request_id": "x", "sequence_id": 0})
        async for msg in ws:
            if msg.type is WSMsgType.TEXT and json.loads(msg.data)["type"] == "CloseStream":
                await ws.send_json(
                    {"type": "TurnInfo", "event": "Update", "transcript": "turn on the lamp"}
                )
                await close_without_code(ws)
                await hold.wait()  # never answers the client's close frame
                break
        return ws

    async for _, client in serve(flux):
        async with client.listen("flux", sample_rate=16000) as session:
            await session.send_audio(bytes(3200))
            started = time.monotonic()
            result = await session.finish(timeout=10)
            elapsed = time.monotonic() - started
        hold.set()
        assert result.text == "turn on the lamp"
        assert elapsed < 1.0  # aiohttp's closing handshake would wait ws_close (5 s)


# -- aura WebSocket: the flush limit -----------------------------------------------------------


async def aura_ws(
    request: web.Request, on_flush: Callable[[web.WebSocketResponse, int], Awaitable[None]]
) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_json({"type": "Metadata", "request_id": "x"})
    flushes = 0
    async for msg in ws:
        if msg.type is WSMsgType.TEXT and json.loads(msg.data)["type"] == "Flush":
            await on_flush(ws, flushes)
            flushes += 1
    return ws


async def test_flush_warning_fails_that_flush_at_once() -> None:
    """A Flush refused with a Warning gets no audio and no Flushed: the client fails it at
    once instead of waiting for audio that never comes."""

    async def on_flush(ws: web.WebSocketResponse, index: int) -> None:
        if index == 0:
            await ws.send_bytes(bytes(480))
            await ws.send_json({"type": "Flushed", "sequence_id": 0})
        else:
            warning = "More than 20 Flush messages in 60 seconds"
            await ws.send_json(
                {"type": "Warning", "code": "FLUSH_LIMIT_EXCEEDED", "description": warning}
            )

    async for _, client in serve(lambda request: aura_ws(request, on_flush)):
        async with client.speak("aura-2-en") as speak:
            await speak.send_text("First.")
            await speak.send_text("Second.")
            first = [frame async for frame in speak.flushed_audio(timeout=30)]
            started = time.monotonic()
            with pytest.raises(errors.FlushLimitError):
                async for _ in speak.flushed_audio(timeout=30):
                    pass
            assert time.monotonic() - started < 2.0
        assert first == [bytes(480)]


async def test_client_never_sends_more_than_twenty_flushes_a_minute() -> None:
    async def on_flush(ws: web.WebSocketResponse, index: int) -> None:
        await ws.send_json({"type": "Flushed", "sequence_id": index})

    async for fake, client in serve(lambda request: aura_ws(request, on_flush)):
        async with client.speak("aura-2-en") as speak:
            for _ in range(FLUSH_LIMIT):
                await speak.send_text("Hi.")
                async for _ in speak.flushed_audio(timeout=5):
                    pass
            assert speak.flushes_available() == 0
            with pytest.raises(errors.FlushLimitError):
                await speak.send_text("One too many.")
            assert speak.pending_flushes == 0
        assert len(fake.requests) == 1


# -- AI Gateway --------------------------------------------------------------------------------


async def test_ai_gateway_urls_and_authorization_per_transport() -> None:
    """REST: ``.../workers-ai/{model}``; WebSocket: ``.../workers-ai?model=@cf/...&...``; both
    with ``cf-aig-authorization`` when a gateway token is configured."""

    async def gateway(request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            return web.json_response({"success": True, "result": {"text": "hi"}})
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.close()
        return ws

    fake = FakeServer(gateway)
    await fake.start()
    try:
        base = f"{fake.url}/v1/{ACCOUNT}/my-gateway/workers-ai"
        async with aiohttp.ClientSession() as session:
            client = WorkersAIClient(
                session, ACCOUNT, "token", api_base_url=base, gateway_token="gateway-secret"
            )
            await client.transcribe("whisper", b"RIFF....WAVE")
            async with client.listen("nova-3", sample_rate=16000):
                pass
    finally:
        await fake.stop()
    rest, websocket = fake.requests
    assert rest.path == f"/v1/{ACCOUNT}/my-gateway/workers-ai/@cf/openai/whisper"
    assert websocket.path == f"/v1/{ACCOUNT}/my-gateway/workers-ai"
    assert websocket.query["model"] == "@cf/deepgram/nova-3"
    assert websocket.query["encoding"] == "linear16"
    for request in (rest, websocket):
        assert request.headers["cf-aig-authorization"] == "Bearer gateway-secret"
        assert request.headers["Authorization"] == "Bearer token"
    assert "gateway-secret" not in repr(client)


# -- refused handshakes, neurons (with the emulator) ------------------------------------------


@pytest.fixture
async def emulated(emulator: Emulator) -> AsyncIterator[WorkersAIClient]:
    async with aiohttp.ClientSession() as session:
        yield emulator_client(session, emulator)


@pytest.mark.parametrize(
    ("status", "code", "expected", "retry_after"),
    [(429, 4006, errors.QuotaExceededError, None), (429, 3036, errors.QuotaExceededError, None),
     (429, 3021, errors.RateLimitError, 30), (403, 5035, errors.PaidPlanRequiredError, None),
     (401, 10000, errors.AuthenticationError, None),
     (403, 3023, errors.AccountNotAllowedError, None),
     (403, 5018, errors.AccountNotAllowedError, None)],
)  # fmt: skip
async def test_refused_handshake_is_classified_from_its_body(
    emulator: Emulator,
    emulated: WorkersAIClient,
    status: int,
    code: int,
    expected: type[errors.WorkersAIError],
    retry_after: int | None,
) -> None:
    emulator.faults.fail_next(10, status=status, code=code, retry_after=retry_after)
    with pytest.raises(expected) as refused:
        async with emulated.listen("flux", sample_rate=16000):
            pass
    assert (refused.value.status, refused.value.code) == (status, code)
    assert refused.value.retry_after == retry_after
    assert not (expected is errors.QuotaExceededError and refused.value.retryable)


async def test_results_carry_cf_ai_neurons(emulated: WorkersAIClient) -> None:
    speech = await emulated.synthesize_pcm("aura-1", "Turn on the light.", sample_rate=16000)
    transcription = await emulated.transcribe_pcm("whisper", speech.pcm, 16000)
    assert transcription.neurons is not None
    assert transcription.neurons > 0
    aura = await emulated.synthesize("aura-1", "Hello.")
    melotts = await emulated.synthesize("melotts", "Hello.", language="en")
    assert aura.neurons is not None
    assert aura.neurons > 0
    assert melotts.neurons is not None
    assert melotts.neurons > 0
    assert melotts.content_type == "audio/wav"
    async with emulated.speak("aura-1") as speak:
        assert speak.neurons == 0.0  # the handshake response's header
