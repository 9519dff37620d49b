"""The client's wire format, checked against the documented request and response shapes.

A loopback aiohttp server records each request and answers with the documented response shape
(https://developers.cloudflare.com/workers-ai/ REST envelope and model pages), so these tests
pin down exactly
what goes over the wire. End-to-end behaviour against the emulator is tested elsewhere.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from wyoming_server.workers_ai import WorkersAIClient, errors

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "secret-token-value"


@dataclass
class Recorder:
    """Records requests and plays back queued answers."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[Callable[[], web.StreamResponse]] = field(default_factory=list)

    def answer_json(
        self, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        self.answers.append(lambda: web.json_response(body, status=status, headers=headers))

    def answer_bytes(self, body: bytes, content_type: str, status: int = 200) -> None:
        self.answers.append(
            lambda: web.Response(body=body, status=status, content_type=content_type)
        )


def envelope(result: Any) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": []}


def failure(code: int, message: str) -> dict[str, Any]:
    return {
        "result": None,
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
    }


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, WorkersAIClient]]:
    rec = Recorder()

    async def handle(request: web.Request) -> web.StreamResponse:
        rec.requests.append(
            {
                "method": request.method,
                "path": request.raw_path.split("?")[0],
                "query": list(request.query.items()),
                "headers": dict(request.headers),
                "body": await request.read(),
            }
        )
        return rec.answers.pop(0)()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as session:
        client = WorkersAIClient(
            session,
            ACCOUNT,
            TOKEN,
            api_base_url=f"http://127.0.0.1:{port}/client/v4",
            deadline=5.0,
            request_timeout=2.0,
        )
        yield rec, client
    await runner.cleanup()


def run_path(model: str) -> str:
    return f"/client/v4/accounts/{ACCOUNT}/ai/run/{model}"


async def test_whisper_sends_raw_audio_and_parses_words(
    recorder: tuple[Recorder, WorkersAIClient],
) -> None:
    rec, client = recorder
    rec.answer_json(
        envelope(
            {
                "text": " Hello world.",
                "word_count": 2,
                "vtt": "WEBVTT",
                "words": [
                    {"word": "Hello", "start": 0.1, "end": 0.4},
                    {"word": "world.", "start": 0.5, "end": 0.9},
                ],
            }
        )
    )
    result = await client.transcribe("@cf/openai/whisper", b"RIFFfake", content_type="audio/wav")
    req = rec.requests[0]
    assert req["method"] == "POST"
    assert req["path"] == run_path("@cf/openai/whisper")  # the model ID is not percent-encoded
    assert req["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert req["body"] == b"RIFFfake"
    assert result.text == "Hello world."
    assert [w.word for w in result.words] == ["Hello", "world."]
    assert result.words[1].end == pytest.approx(0.9)


async def test_turbo_sends_base64_json_with_iso_language(
    recorder: tuple[Recorder, WorkersAIClient],
) -> None:
    rec, client = recorder
    rec.answer_json(
        envelope(
            {
                "transcription_info": {
                    "language": "de",
                    "language_probability": 0.9,
                    "duration": 2.5,
                },
                "text": "Hallo Welt",
                "word_count": 2,
                "segments": [
                    {
                        "start": 0,
                        "end": 2.5,
                        "text": "Hallo Welt",
                        "words": [
                            {"word": "Hallo", "start": 0.0, "end": 0.5},
                            {"word": "Welt", "start": 0.6, "end": 1.0},
                        ],
                    }
                ],
            }
        )
    )
    result = await client.transcribe(
        "whisper-large-v3-turbo",
        b"\x00\x01audio",
        language="de-DE",
        initial_prompt="Licht",
        vad_filter=True,
    )
    req = rec.requests[0]
    assert req["headers"]["Content-Type"] == "application/json"
    body = json.loads(req["body"])
    assert body == {
        "audio": base64.b64encode(b"\x00\x01audio").decode(),
        "language": "de",
        "initial_prompt": "Licht",
        "vad_filter": True,
    }
    assert (result.text, result.language, result.duration) == ("Hallo Welt", "de", 2.5)
    assert [w.word for w in result.words] == ["Hallo", "Welt"]


async def test_nova3_sends_raw_body_with_content_type_and_query_options(
    recorder: tuple[Recorder, WorkersAIClient],
) -> None:
    rec, client = recorder
    rec.answer_json(
        envelope(
            {
                "results": {
                    "channels": [
                        {
                            "alternatives": [
                                {
                                    "transcript": "turn on the light",
                                    "confidence": 0.98,
                                    "words": [
                                        {
                                            "word": "turn",
                                            "punctuated_word": "Turn",
                                            "start": 0.1,
                                            "end": 0.3,
                                            "confidence": 0.9,
                                        }
                                    ],
                                }
                            ]
                        }
                    ]
                }
            }
        )
    )
    result = await client.transcribe(
        "@cf/deepgram/nova-3",
        b"fLaCdata",
        content_type="audio/flac",
        language="en_GB",
        keyterms=["Hue", "Zigbee"],
    )
    req = rec.requests[0]
    assert req["headers"]["Content-Type"] == "audio/flac"
    assert req["body"] == b"fLaCdata"
    assert ("language", "en-GB") in req["query"]
    assert [v for k, v in req["query"] if k == "keyterm"] == ["Hue", "Zigbee"]
    assert ("punctuate", "true") in req["query"]
    assert result.text == "turn on the light"
    assert result.words[0].word == "Turn"


async def test_nova3_unsupported_language_uses_detection_without_keyterms(
    recorder: tuple[Recorder, WorkersAIClient],
) -> None:
    rec, client = recorder
    rec.answer_json(
        envelope(
            {
                "results": {
                    "channels": [
                        {"alternatives": [{"transcript": "hej"}], "detected_language": "sv"}
                    ]
                }
            }
        )
    )
    result = await client.transcribe("nova-3", b"x", language="sv", keyterms=["ord"])
    query = rec.requests[0]["query"]
    assert ("detect_language", "true") in query
    assert not [k for k, _ in query if k in ("language", "keyterm")]
    assert result.language == "sv"


async def test_flux_has_no_rest_form(recorder: tuple[Recorder, WorkersAIClient]) -> None:
    _, client = recorder
    with pytest.raises(errors.InvalidInputError, match="no REST form"):
        await client.transcribe("@cf/deepgram/flux", b"x")


async def test_aura_sends_json_and_returns_raw_mp3(
    recorder: tuple[Recorder, WorkersAIClient],
) -> None:
    rec, client = recorder
    rec.answer_bytes(b"ID3mp3bytes", "audio/mpeg")
    result = await client.synthesize("@cf/deepgram/aura-2-en", "Hello.")
    assert json.loads(rec.requests[0]["body"]) == {"text": "Hello.", "speaker": "luna"}
    assert (result.audio, result.content_type) == (b"ID3mp3bytes", "audio/mpeg")


async def test_aura_linear16_pcm_is_requested_raw(
    recorder: tuple[Recorder, WorkersAIClient],
) -> None:
    rec, client = recorder
    rec.answer_bytes(b"\x01\x00\x02\x00\x03", "application/octet-stream")
    pcm = await client.synthesize_pcm("aura-1", "Hi.", speaker="zeus", sample_rate=16000)
    assert json.loads(rec.requests[0]["body"]) == {
        "text": "Hi.",
        "speaker": "zeus",
        "encoding": "linear16",
        "container": "none",
        "sample_rate": 16000,
    }
    assert pcm.pcm == b"\x01\x00\x02\x00"  # an odd trailing byte is not a sample
    assert pcm.sample_rate == 16000


async def test_aura_rejects_speaker_of_another_model(
    recorder: tuple[Recorder, WorkersAIClient],
) -> None:
    rec, client = recorder
    with pytest.raises(errors.InvalidInputError, match="angus"):
        await client.synthesize("aura-2-en", "Hi.", speaker="angus")
    assert rec.requests == []


@pytest.mark.parametrize(
    ("data", "content_type"),
    [(b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"), (b"ID3xyz", "audio/mpeg")],
)
async def test_melotts_sends_prompt_and_labels_the_audio_by_its_bytes(
    recorder: tuple[Recorder, WorkersAIClient], data: bytes, content_type: str
) -> None:
    """Workers AI answers MeloTTS as WAV although the schema says MP3 (§9 C3): the label
    comes from the bytes."""
    rec, client = recorder
    rec.answer_json(envelope({"audio": base64.b64encode(data).decode()}))
    result = await client.synthesize("@cf/myshell-ai/melotts", "Ni hao.", language="zh-CN")
    assert json.loads(rec.requests[0]["body"]) == {"prompt": "Ni hao.", "lang": "zh"}
    assert result.audio == data
    assert result.content_type == content_type


async def test_melotts_refuses_spanish_and_french_before_calling(
    recorder: tuple[Recorder, WorkersAIClient],
) -> None:
    """§9 C4: Workers AI answers es/fr with 404/8002; the client does not even ask."""
    rec, client = recorder
    for language in ("fr-FR", "es"):
        with pytest.raises(errors.InvalidInputError):
            await client.synthesize("@cf/myshell-ai/melotts", "Hola.", language=language)
    assert rec.requests == []


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, 10000, errors.AuthenticationError),
        (404, 7003, errors.AccountNotFoundError),
        (403, 5035, errors.PaidPlanRequiredError),
        (403, 3023, errors.AccountNotAllowedError),  # account blocked: no new token helps
        (403, 5018, errors.AccountNotAllowedError),
        (403, 3041, errors.AccountNotAllowedError),
        (413, 3006, errors.RequestTooLargeError),
        (400, 5006, errors.InvalidInputError),
        (400, 3010, errors.InvalidInputError),
        (429, 3036, errors.QuotaExceededError),
        (429, 4006, errors.QuotaExceededError),  # the daily allocation in practice (§9 C2)
        (400, 7000, errors.InvalidInputError),  # unknown model (§9 C6)
        (400, 8007, errors.InvalidInputError),  # empty TTS text (§9 C6)
        (404, 8002, errors.InvalidInputError),  # MeloTTS es/fr (§9 C4)
        (200, 5006, errors.InvalidInputError),  # HTTP 200 with success:false is a failure (§1.3)
    ],
)
async def test_error_envelopes_map_to_typed_errors_without_retry(
    recorder: tuple[Recorder, WorkersAIClient], status: int, code: int, expected: type[Exception]
) -> None:
    rec, client = recorder
    rec.answer_json(failure(code, "boom"), status=status)
    with pytest.raises(expected) as info:
        await client.transcribe("whisper-tiny-en", b"x")
    assert isinstance(info.value, errors.WorkersAIError)
    assert (info.value.code, info.value.status) == (code, status)
    assert TOKEN not in str(info.value)
    assert len(rec.requests) == 1  # not retried


async def test_daily_allocation_text_is_a_quota_error_whatever_the_code(
    recorder: tuple[Recorder, WorkersAIClient],
) -> None:
    """§9 C2: the text decides, and the message says when it resets and what to do."""
    rec, client = recorder
    text = "you have used up your daily free allocation of 10,000 neurons, please upgrade"
    rec.answer_json(failure(3040, text), status=429)
    with pytest.raises(errors.QuotaExceededError) as info:
        await client.transcribe("whisper-tiny-en", b"x")
    assert not info.value.retryable
    assert "00:00 UTC" in str(info.value)
    assert "Workers Paid plan" in str(info.value)
    assert len(rec.requests) == 1


async def test_retryable_errors_are_retried_then_succeed(
    recorder: tuple[Recorder, WorkersAIClient],
) -> None:
    rec, client = recorder
    rec.answer_json(failure(3040, "Capacity temporarily exceeded, please try again."), status=429)
    rec.answer_json(failure(3001, "Internal server error"), status=500)
    rec.answer_json(envelope({"text": "ok"}))
    result = await client.transcribe("whisper", b"x")
    assert result.text == "ok"
    assert len(rec.requests) == 3
    assert rec.requests[0]["body"] == rec.requests[2]["body"] == b"x"


async def test_retries_stop_after_max_attempts(recorder: tuple[Recorder, WorkersAIClient]) -> None:
    rec, client = recorder
    for _ in range(client.max_attempts):
        rec.answer_json(failure(3001, "Internal server error"), status=500)
    with pytest.raises(errors.ServerError):
        await client.transcribe("whisper", b"x")
    assert len(rec.requests) == client.max_attempts


async def test_non_json_error_body_still_gives_typed_error(
    recorder: tuple[Recorder, WorkersAIClient],
) -> None:
    rec, client = recorder
    rec.answer_bytes(b"<html>Bad gateway</html>", "text/html", status=400)
    with pytest.raises(errors.InvalidInputError, match="Bad gateway"):
        await client.synthesize("aura-1", "x")


async def test_gateway_base_url_appends_model_id(
    recorder: tuple[Recorder, WorkersAIClient],
) -> None:
    rec, client = recorder
    gateway = WorkersAIClient(
        client._session,
        ACCOUNT,
        TOKEN,
        api_base_url=f"{client.api_base_url.removesuffix('/client/v4')}/v1/{ACCOUNT}/gw/workers-ai",
    )
    rec.answer_json(envelope({"text": "ok"}))
    await gateway.transcribe("whisper", b"x")
    assert rec.requests[0]["path"] == f"/v1/{ACCOUNT}/gw/workers-ai/@cf/openai/whisper"


async def test_verify_calls_models_search(recorder: tuple[Recorder, WorkersAIClient]) -> None:
    rec, client = recorder
    rec.answer_json(envelope([{"name": "@cf/openai/whisper"}]))
    await client.verify()
    assert rec.requests[0]["method"] == "GET"
    assert rec.requests[0]["path"] == f"/client/v4/accounts/{ACCOUNT}/ai/models/search"
    rec.answer_json(failure(10000, "Authentication error"), status=401)
    with pytest.raises(errors.AuthenticationError):
        await client.verify()


async def test_connection_refused_is_connection_error() -> None:
    async with aiohttp.ClientSession() as session:
        client = WorkersAIClient(
            session,
            ACCOUNT,
            TOKEN,
            api_base_url="http://127.0.0.1:9/client/v4",
            deadline=1.0,
            max_attempts=2,
        )
        with pytest.raises((errors.ConnectionFailedError, errors.RequestTimeoutError)):
            await client.transcribe("whisper", b"x")


def test_repr_hides_token() -> None:
    client = WorkersAIClient(None, ACCOUNT, TOKEN)  # type: ignore[arg-type]
    assert TOKEN not in repr(client)


async def test_long_text_is_split_into_requests_and_pcm_concatenated(
    recorder: tuple[Recorder, WorkersAIClient],
) -> None:
    rec, client = recorder
    sentence = "The living room lamp is now on and the kitchen light is off. "  # 61 characters
    text = sentence * 20  # 1220 characters: over aura-2-en's 1000
    rec.answer_bytes(b"\x01\x00\x02\x00", "application/octet-stream")
    rec.answer_bytes(b"\x03\x00", "application/octet-stream")
    result = await client.synthesize_pcm("aura-2-en", text, sample_rate=16000)
    bodies = [json.loads(r["body"])["text"] for r in rec.requests]
    assert len(bodies) == 2
    assert all(len(b) <= 1000 for b in bodies)
    assert " ".join(bodies).split() == text.split()
    assert result.pcm == b"\x01\x00\x02\x00\x03\x00"


async def test_long_text_as_one_mp3_is_refused(recorder: tuple[Recorder, WorkersAIClient]) -> None:
    rec, client = recorder
    with pytest.raises(errors.InvalidInputError, match="synthesize_pcm"):
        await client.synthesize("aura-1", "word " * 500)
    assert rec.requests == []
