"""The emulator refuses what Cloudflare refuses, with Cloudflare's status, code and message:
authentication, account routing, unknown models, schema-invalid input, edge limits; plus the
models search endpoint and loopback-only listening."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from wyoming_server.emulator import DEFAULT_ACCOUNT_ID, DEFAULT_API_TOKEN, Emulator
from wyoming_server.emulator.__main__ import parse_args

AUTH_ERROR = {
    "result": None,
    "success": False,
    "errors": [{"code": 10000, "message": "Authentication error"}],
    "messages": [],
}


def error_of(body: dict[str, Any]) -> tuple[int, str]:
    """(code, message) of an exact v4 failure envelope."""
    assert set(body) == {"result", "success", "errors", "messages"}
    assert body["result"] is None
    assert body["success"] is False
    assert body["messages"] == []
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    return error["code"], error["message"]


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {emulator.api_token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield session


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": DEFAULT_API_TOKEN},
     {"Authorization": f"Basic {DEFAULT_API_TOKEN}"},
     {"X-Auth-Email": "a@example.com", "X-Auth-Key": DEFAULT_API_TOKEN}],
)  # fmt: skip
async def test_wrong_or_missing_token_is_401_10000(
    emulator: Emulator, headers: dict[str, str]
) -> None:
    async with aiohttp.ClientSession(headers=headers) as session:
        url = emulator.run_url("@cf/deepgram/aura-1")
        async with session.post(url, json={"text": "hi"}) as resp:
            assert resp.status == 401
            assert await resp.json() == AUTH_ERROR
        search = f"{emulator.base_url}/accounts/{emulator.account_id}/ai/models/search"
        async with session.get(search) as resp:
            assert resp.status == 401
            assert await resp.json() == AUTH_ERROR
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await session.ws_connect(
                emulator.run_url("@cf/deepgram/nova-3") + "?encoding=linear16&sample_rate=16000"
            )
        assert err.value.status == 401


async def test_defaults_and_overrides() -> None:
    assert len(DEFAULT_ACCOUNT_ID) == 32
    assert int(DEFAULT_ACCOUNT_ID, 16) >= 0
    async with Emulator(account_id="a" * 32, api_token="my-token") as emu:
        assert emu.base_url == f"http://127.0.0.1:{emu.port}/client/v4"
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer my-token"}) as s:
            url = f"{emu.base_url}/accounts/{'a' * 32}/ai/models/search"
            async with s.get(url) as resp:
                assert resp.status == 200
        async with (
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {DEFAULT_API_TOKEN}"}) as s,
            s.get(f"{emu.base_url}/accounts/{'a' * 32}/ai/models/search") as resp,
        ):
            assert resp.status == 401


async def test_unknown_account_is_401_on_run_and_403_on_search(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    """§9 C5: a wrong account ID looks like a wrong token (401/10000), not 404/7003."""
    model = "@cf/openai/whisper-large-v3-turbo"
    url = f"{emulator.base_url}/accounts/{'f' * 32}/ai/run/{model}"
    async with http.post(url, json={"audio": ""}) as resp:
        assert resp.status == 401
        assert await resp.json() == AUTH_ERROR
    async with http.get(f"{emulator.base_url}/accounts/{'f' * 32}/ai/models/search") as resp:
        assert resp.status == 403
        assert await resp.json() == AUTH_ERROR


async def test_unknown_model_is_400_7000(http: aiohttp.ClientSession, emulator: Emulator) -> None:
    """§9 C6."""
    async with http.post(emulator.run_url("@cf/openai/whisper-huge"), data=b"x") as resp:
        assert resp.status == 400
        assert error_of(await resp.json()) == (
            7000,
            "No such model @cf/openai/whisper-huge or task",
        )


WHISPER = "@cf/openai/whisper"
TURBO = "@cf/openai/whisper-large-v3-turbo"
AURA_1 = "@cf/deepgram/aura-1"
AURA_2_EN = "@cf/deepgram/aura-2-en"
MELOTTS = "@cf/myshell-ai/melotts"
B64 = base64.b64encode(b"RIFF").decode()


@pytest.mark.parametrize(
    ("model", "body", "fragment"),
    [
        (TURBO, {"audio": B64, "temperature": 0}, "'temperature' was unexpected"),
        (TURBO, {"language": "en"}, "'audio' is a required property"),
        (TURBO, {"audio": 5}, "at '/audio'"),
        (TURBO, {"audio": B64, "beam_size": 1.5}, "at '/beam_size'"),
        (TURBO, {"audio": B64, "vad_filter": "yes"}, "at '/vad_filter'"),
        (WHISPER, {"audio": [1, 2], "language": "en"}, "Bad input"),
        (WHISPER, {"audio": "UklGRg=="}, "Bad input"),
        (AURA_1, {"speaker": "angus"}, "'text' is a required property"),
        (AURA_1, {"text": 42}, "at '/text'"),
        (AURA_2_EN, {"text": "hi", "speaker": "angus"}, "'angus' is not one of"),
        (AURA_2_EN, {"text": "hi", "encoding": "wav"}, "at '/encoding'"),
        (AURA_2_EN, {"text": "hi", "voice": "luna"}, "'voice' was unexpected"),
        (AURA_1, {"text": "hi", "encoding": "mp3", "sample_rate": 16000}, "sample_rate"),
        (AURA_1, {"text": "hi", "encoding": "linear16", "sample_rate": 44100}, "sample_rate"),
        (AURA_1, {"text": "hi", "encoding": "opus", "container": "wav"}, "container"),
        (AURA_1, {"text": "hi", "encoding": "linear16", "bit_rate": 48000}, "bit_rate"),
        (MELOTTS, {"text": "Hello"}, "'prompt' is a required property"),
    ],
)
async def test_schema_invalid_json_is_400_5006(
    http: aiohttp.ClientSession, emulator: Emulator, model: str, body: Any, fragment: str
) -> None:
    async with http.post(emulator.run_url(model), json=body) as resp:
        assert resp.status == 400
        code, message = error_of(await resp.json())
    assert code == 5006
    assert message.startswith("AiError: Bad input: ")
    assert fragment in message


@pytest.mark.parametrize(
    ("model", "body"),
    [(AURA_1, {"text": ""}), (AURA_2_EN, {"text": "   "}), (MELOTTS, {"prompt": "", "lang": "en"})],
)
async def test_empty_tts_text_is_400_8007(
    http: aiohttp.ClientSession, emulator: Emulator, model: str, body: dict[str, Any]
) -> None:
    """§9 C6."""
    async with http.post(emulator.run_url(model), json=body) as resp:
        assert resp.status == 400
        assert error_of(await resp.json())[0] == 8007


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [({"prompt": "Hi.", "lang": "es"}, 404, 8002), ({"prompt": "Hi.", "lang": "fr"}, 404, 8002),
     ({"prompt": "Hi.", "lang": "EN"}, 500, 3001), ({"prompt": "Hi."}, 500, 3001)],
)  # fmt: skip
async def test_melotts_refuses_spanish_french_and_non_lower_case_lang(
    http: aiohttp.ClientSession, emulator: Emulator, body: dict[str, Any], status: int, code: int
) -> None:
    """§9 C4: es/fr → 404/8002 "Invalid input"; upper-case or missing lang → 500."""
    async with http.post(emulator.run_url(MELOTTS), json=body) as resp:
        assert resp.status == status
        assert error_of(await resp.json())[0] == code


@pytest.mark.parametrize(
    ("code", "status", "retry_after"),
    [(4006, 429, None), (3036, 429, None), (3021, 429, 7), (10000, 401, None), (5035, 403, None)],
)
async def test_refused_websocket_handshake_carries_the_v4_body(
    http: aiohttp.ClientSession, emulator: Emulator, code: int, status: int, retry_after: int | None
) -> None:
    """§9 C11: injected failures refuse a WebSocket handshake with the v4 JSON body (and
    ``Retry-After``), the same as a REST call; 4006/3036 carry the daily allocation text."""
    emulator.faults.fail_next(1, status=status, code=code, retry_after=retry_after)
    url = emulator.run_url("@cf/deepgram/flux") + "?encoding=linear16&sample_rate=16000"
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode()}  # fmt: skip
    async with http.get(url, headers=headers) as resp:
        assert resp.status == status
        assert resp.headers.get("Retry-After") == (str(retry_after) if retry_after else None)
        assert "cf-ai-neurons" in resp.headers
        got_code, message = error_of(await resp.json())
    assert got_code == code
    assert ("daily free allocation" in message) == (code in (4006, 3036))


@pytest.mark.parametrize("query", ["model=flux-general-multi", "language_hint=de"])
async def test_flux_is_english_only(
    http: aiohttp.ClientSession, emulator: Emulator, query: str
) -> None:
    """§9 C9: Workers AI hosts only the English Flux model."""
    url = emulator.run_url("@cf/deepgram/flux") + f"?encoding=linear16&sample_rate=16000&{query}"
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await http.ws_connect(url)
    assert err.value.status == 400


@pytest.mark.parametrize(
    ("params", "fragment"),
    [({"bogus": "1"}, "'bogus' was unexpected"),
     ({"punctuate": "maybe"}, "at '/punctuate'"),
     ({"mode": "legal"}, "at '/mode'"),
     ({"language": "en", "smart_format": "true", "diarize": "1"}, "at '/diarize'")],
)  # fmt: skip
async def test_nova_3_invalid_query_is_400_5006(
    http: aiohttp.ClientSession, emulator: Emulator, params: dict[str, str], fragment: str
) -> None:
    url = emulator.run_url("@cf/deepgram/nova-3")
    headers = {"Content-Type": "audio/wav"}
    async with http.post(url, params=params, data=b"RIFF....", headers=headers) as resp:
        assert resp.status == 400
        code, message = error_of(await resp.json())
    assert (code, fragment in message) == (5006, True)


async def test_nova_3_refuses_json_base64(http: aiohttp.ClientSession, emulator: Emulator) -> None:
    url = emulator.run_url("@cf/deepgram/nova-3")
    async with http.post(url, json={"audio": {"body": B64, "contentType": "audio/wav"}}) as resp:
        assert resp.status == 400
        code, _ = error_of(await resp.json())
    assert code == 5006


async def test_nova_3_unknown_language(http: aiohttp.ClientSession, emulator: Emulator) -> None:
    url = emulator.run_url("@cf/deepgram/nova-3")
    async with http.post(
        url, params={"language": "tlh"}, data=b"RIFF", headers={"Content-Type": "audio/wav"}
    ) as resp:
        assert resp.status == 400
        assert error_of(await resp.json()) == (
            3010,
            "Invalid or incomplete input for the model: No such model/language/tier combination "
            "found",
        )


async def test_flux_over_rest_is_refused(http: aiohttp.ClientSession, emulator: Emulator) -> None:
    async with http.post(emulator.run_url("@cf/deepgram/flux"), json={}) as resp:
        assert resp.status == 400
        code, message = error_of(await resp.json())
    assert code == 5006
    assert "WebSocket only" in message


async def test_undecodable_audio_and_bad_base64_are_400_3010(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    async with http.post(emulator.run_url(WHISPER), data=b"this is not audio") as resp:
        assert resp.status == 400
        assert error_of(await resp.json())[0] == 3010
    async with http.post(emulator.run_url(TURBO), json={"audio": "%%% not base64"}) as resp:
        assert resp.status == 400
        assert error_of(await resp.json())[0] == 3010
    async with http.post(
        emulator.run_url(WHISPER), data=b"{not json", headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 400
        assert error_of(await resp.json())[0] == 3010


async def test_empty_body_is_400_3003(http: aiohttp.ClientSession, emulator: Emulator) -> None:
    async with http.post(emulator.run_url(WHISPER), data=b"") as resp:
        assert resp.status == 400
        assert error_of(await resp.json()) == (3003, "Request is missing headers or body: body")


async def test_chunked_body_is_refused_with_411_3003(
    http: aiohttp.ClientSession, emulator: Emulator
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"RIFF"
        yield b"more"

    async with http.post(emulator.run_url(WHISPER), data=chunks()) as resp:
        assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
        assert resp.status == 411
        assert error_of(await resp.json()) == (
            3003,
            "Request is missing headers or body: Content-Length",
        )


async def test_request_size_limit_is_413_3006() -> None:
    async with (
        Emulator(max_request_bytes=1000) as emu,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {emu.api_token}"}) as s,
    ):
        async with s.post(emu.run_url(WHISPER), data=b"\0" * 1001) as resp:
            assert resp.status == 413
            assert error_of(await resp.json()) == (3006, "Request is too large")
        async with s.post(emu.run_url(WHISPER), data=b"\0" * 1000) as resp:
            assert resp.status == 400  # within the limit: read, then not decodable audio
            assert error_of(await resp.json())[0] == 3010


async def test_unknown_path_is_404(http: aiohttp.ClientSession, emulator: Emulator) -> None:
    async with http.get(f"{emulator.base_url}/accounts/{emulator.account_id}/ai/v1/x") as resp:
        assert resp.status == 404
        assert error_of(await resp.json())[0] == 7000


async def test_models_search(http: aiohttp.ClientSession, emulator: Emulator) -> None:
    url = f"{emulator.base_url}/accounts/{emulator.account_id}/ai/models/search"
    async with http.get(url) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["success"] is True
    names = {m["name"] for m in body["result"]}
    assert names == {
        "@cf/openai/whisper", "@cf/openai/whisper-tiny-en", "@cf/openai/whisper-large-v3-turbo",
        "@cf/deepgram/nova-3", "@cf/deepgram/flux", "@cf/deepgram/aura-1",
        "@cf/deepgram/aura-2-en", "@cf/deepgram/aura-2-es", "@cf/myshell-ai/melotts",
    }  # fmt: skip
    assert body["result_info"]["total_count"] == 9
    entry = body["result"][0]
    assert {"id", "name", "description", "task", "properties"} <= set(entry)
    async with http.get(url, params={"task": "Text-to-Speech"}) as resp:
        tts = {m["name"] for m in (await resp.json())["result"]}
    assert tts == {"@cf/deepgram/aura-1", "@cf/deepgram/aura-2-en", "@cf/deepgram/aura-2-es",
                   "@cf/myshell-ai/melotts"}  # fmt: skip
    async with http.get(url, params={"task": "automatic-speech-recognition"}) as resp:
        asr = (await resp.json())["result"]
    assert all(m["task"]["name"] == "Automatic Speech Recognition" for m in asr)
    assert len(asr) == 5
    async with http.get(url, params={"search": "aura", "per_page": "2", "page": "2"}) as resp:
        body = await resp.json()
    assert [m["name"] for m in body["result"]] == ["@cf/deepgram/aura-2-es"]
    assert body["result_info"] == {"count": 1, "page": 2, "per_page": 2, "total_count": 3}
    async with http.get(url, params={"per_page": "lots"}) as resp:
        assert resp.status == 200  # lenient


UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("@cf/deepgram/nova-3", "encoding=linear16"),  # no sample_rate
        ("@cf/deepgram/nova-3", "encoding=linear16&sample_rate=16000&interim_results=yes"),
        ("@cf/deepgram/nova-3", "encoding=opus&sample_rate=16000"),
        ("@cf/deepgram/flux", "encoding=linear16"),
        ("@cf/deepgram/flux", "encoding=mulaw&sample_rate=8000"),
        ("@cf/deepgram/flux", "encoding=linear16&sample_rate=16000&eot_threshold=0.2"),
        ("@cf/deepgram/flux", "encoding=linear16&sample_rate=16000&interim_results=true"),
        ("@cf/deepgram/aura-2-en", "speaker=angus"),
        ("@cf/deepgram/aura-2-en", "encoding=mp3"),
        ("@cf/deepgram/aura-2-en", "sample_rate=22050"),
        ("@cf/deepgram/aura-2-en", "container=wav"),
        ("@cf/openai/whisper", ""),
    ],
)
async def test_websocket_handshake_refuses_bad_parameters_with_400(
    http: aiohttp.ClientSession, emulator: Emulator, model: str, query: str
) -> None:
    url = emulator.run_url(model) + (f"?{query}" if query else "")
    async with http.get(url, headers=UPGRADE) as resp:
        assert resp.status == 400
        code, message = error_of(await resp.json())
    assert code == 5006
    assert message.startswith("AiError: Bad input: ")


def test_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Emulator(host="0.0.0.0")
    with pytest.raises(SystemExit):
        parse_args(["--host", "192.168.1.10"])
    assert parse_args(["--host", "::1", "--port", "0"]).host == "::1"
