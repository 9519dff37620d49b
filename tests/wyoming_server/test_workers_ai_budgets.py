"""Time budgets and error classes the client must keep whatever the backend does.

A loopback aiohttp server plays a misbehaving Workers AI with injected latency, ``Retry-After``
and bare HTTP statuses. The bounds are generous (a loaded 2-core CI machine) but far below what
the client would take without its deadline: a test here fails when the budget is ignored, not
when the machine is slow.

Facts: Cloudflare v4 error envelope and status codes,
https://developers.cloudflare.com/workers-ai/platform/errors/ ; ``Retry-After`` (seconds),
https://www.rfc-editor.org/rfc/rfc9110#name-retry-after .
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from wyoming_server.workers_ai import WorkersAIClient, errors

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "secret-token-value"
TINY = "@cf/openai/whisper-tiny-en"


@dataclass
class Backend:
    """Answers every request with ``answer`` after ``latency`` seconds; records arrival times."""

    answer: Callable[[int], web.StreamResponse]
    latency: float = 0.0
    arrivals: list[float] = field(default_factory=list)


def envelope_error(status: int, code: int | None, message: str, **headers: str) -> web.Response:
    error: dict[str, object] = {"message": message}
    if code is not None:
        error["code"] = code
    body = {"result": None, "success": False, "errors": [error], "messages": []}
    return web.json_response(body, status=status, headers=headers or None)


def whisper_ok() -> web.Response:
    result = {"text": "hello", "word_count": 1, "words": [], "vtt": "WEBVTT"}
    return web.json_response({"result": result, "success": True, "errors": [], "messages": []})


Client = Callable[..., Awaitable[tuple[Backend, WorkersAIClient]]]


@pytest.fixture
async def backend() -> AsyncIterator[Client]:
    """Call with ``(answer, latency=…, **client options)`` to get a backend and a client."""
    runners: list[web.AppRunner] = []
    session = aiohttp.ClientSession()

    async def make(
        answer: Callable[[int], web.StreamResponse], latency: float = 0.0, **options: float
    ) -> tuple[Backend, WorkersAIClient]:
        state = Backend(answer, latency)

        async def handle(request: web.Request) -> web.StreamResponse:
            state.arrivals.append(time.monotonic())
            await request.read()
            if state.latency:
                await asyncio.sleep(state.latency)
            return state.answer(len(state.arrivals))

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, shutdown_timeout=0.2)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        client = WorkersAIClient(
            session, ACCOUNT, TOKEN, api_base_url=f"http://127.0.0.1:{port}/client/v4", **options
        )
        return state, client

    yield make
    await session.close()
    for runner in runners:
        await runner.cleanup()


async def test_deadline_bounds_retries_of_a_slowly_failing_backend(backend: Client) -> None:
    """Each attempt takes 0.8 s and fails retryably (503): the 2 s deadline ends the call,
    not the 10 allowed attempts (about 10 s)."""
    state, client = await backend(
        lambda n: envelope_error(503, None, "overloaded"),
        latency=0.8,
        deadline=2.0,
        request_timeout=5.0,
        max_attempts=10,
    )
    started = time.monotonic()
    with pytest.raises(errors.WorkersAIError):
        await client.transcribe_pcm(TINY, bytes(3200), 16000)
    assert time.monotonic() - started < 3.5
    assert len(state.arrivals) < 10


async def test_deadline_bounds_a_backend_that_never_answers(backend: Client) -> None:
    """One attempt may take 6 s, the whole call only 1 s: a timeout error after about 1 s."""
    _, client = await backend(
        lambda n: whisper_ok(), latency=8.0, deadline=1.0, request_timeout=6.0, max_attempts=1
    )
    started = time.monotonic()
    with pytest.raises(errors.RequestTimeoutError):
        await client.transcribe_pcm(TINY, bytes(3200), 16000)
    assert time.monotonic() - started < 3.0


async def test_retry_after_is_waited_before_the_retry(backend: Client) -> None:
    """429 with ``Retry-After: 1``: the retry comes no earlier than 1 s later (the client's
    own backoff would retry after at most 0.25 s)."""
    state, client = await backend(
        lambda n: (
            envelope_error(429, 3040, "Capacity temporarily exceeded", **{"Retry-After": "1"})
            if n == 1
            else whisper_ok()
        ),
        deadline=5.0,
        request_timeout=2.0,
    )
    result = await client.transcribe_pcm(TINY, bytes(3200), 16000)
    assert result.text == "hello"
    assert len(state.arrivals) == 2
    assert state.arrivals[1] - state.arrivals[0] >= 0.95


async def test_retry_after_beyond_the_deadline_fails_at_once(backend: Client) -> None:
    """A ``Retry-After`` longer than the remaining budget: give up now, no retry."""
    state, client = await backend(
        lambda n: envelope_error(
            429, 3040, "Capacity temporarily exceeded", **{"Retry-After": "30"}
        ),
        deadline=3.0,
        request_timeout=2.0,
    )
    started = time.monotonic()
    with pytest.raises(errors.RateLimitError):
        await client.transcribe_pcm(TINY, bytes(3200), 16000)
    assert len(state.arrivals) == 1
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    "answer",
    [
        lambda n: envelope_error(403, None, "Forbidden"),
        lambda n: web.Response(status=403, text="Forbidden", content_type="text/plain"),
    ],
    ids=["envelope-without-code", "plain-text"],
)
async def test_rest_403_without_error_code_is_an_authentication_error(
    backend: Client, answer: Callable[[int], web.StreamResponse]
) -> None:
    """A token without Workers AI permission gets a bare 403: an authentication error (so the
    user is asked for a new token), never retried."""
    state, client = await backend(answer, deadline=5.0)
    with pytest.raises(errors.AuthenticationError):
        await client.transcribe_pcm(TINY, bytes(3200), 16000)
    assert len(state.arrivals) == 1


@pytest.mark.parametrize("model", ["@cf/deepgram/nova-3", "@cf/deepgram/aura-2-en"])
async def test_websocket_handshake_403_without_error_code_is_an_authentication_error(
    backend: Client, model: str
) -> None:
    _, client = await backend(lambda n: envelope_error(403, None, "Forbidden"), deadline=5.0)
    with pytest.raises(errors.AuthenticationError):
        if model.endswith("nova-3"):
            async with client.listen(model, sample_rate=16000):
                pass
        else:
            async with client.speak(model):
                pass
