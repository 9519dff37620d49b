"""Cloudflare v4 error envelopes as the emulator answers them.

Codes, HTTP statuses and messages come from the v4 envelope
(https://developers.cloudflare.com/workers-ai/get-started/rest-api/), the errors page
(https://developers.cloudflare.com/workers-ai/platform/errors/), codes seen from the real API
(10000, 5006: live probes published in https://github.com/xujialiu/Zotero-TTS,
notes/NOTES_2026-09-07.md; 3010: reported by projects calling the API, no public page) and those
probes where they override the page:
unknown model 400/7000, empty TTS text 400/8007, MeloTTS language refused 404/8002.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

# Error codes (the errors page, see the module docstring).
AUTHENTICATION_ERROR = 10000
ROUTING_ERROR = 7003
NO_SUCH_MODEL = 7000
EMPTY_TEXT = 8007
INVALID_INPUT_8002 = 8002
BAD_INPUT = 5006
INVALID_INPUT = 3010
INCOMPLETE_REQUEST = 3003
REQUEST_TOO_LARGE = 3006
INTERNAL_ERROR = 3001
OUT_OF_CAPACITY = 3040


class CloudflareError(Exception):
    """An error the emulator answers with a v4 JSON envelope.

    ``status`` is the HTTP status, ``code`` the numeric Cloudflare error code and ``message`` the
    error message, e.g. ``CloudflareError(401, 10000, "Authentication error")``.
    """

    def __init__(
        self, status: int, code: int, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def envelope(self) -> dict[str, Any]:
        """The failure envelope ``{"result":null,"success":false,"errors":[...],"messages":[]}``."""
        return error_envelope(self.code, self.message)

    def response(self) -> web.Response:
        """The HTTP response Cloudflare gives for this error."""
        return web.json_response(self.envelope(), status=self.status, headers=self.headers)


def error_envelope(code: int, message: str) -> dict[str, Any]:
    """A v4 failure envelope (``success: false``, ``errors[{code, message}]``)."""
    return {
        "result": None,
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
    }


def success_envelope(result: Any) -> dict[str, Any]:
    """A v4 success envelope (``success: true``, ``result``)."""
    return {"result": result, "success": True, "errors": [], "messages": []}


def authentication_error() -> CloudflareError:
    """Missing or wrong API token: HTTP 401, code 10000 (errors page; live probes)."""
    return CloudflareError(401, AUTHENTICATION_ERROR, "Authentication error")


def routing_error(path: str) -> CloudflareError:
    """Unknown account ID: HTTP 404, code 7003 (cloudflare/workers-sdk#2100)."""
    return CloudflareError(
        404,
        ROUTING_ERROR,
        f"Could not route to {path}, perhaps your object identifier is invalid?",
    )


def no_such_model(model_id: str) -> CloudflareError:
    """Unknown model: HTTP 400, code 7000 (live probes; the errors page's 5007 is not what live
    probes got)."""
    return CloudflareError(400, NO_SUCH_MODEL, f"No such model {model_id} or task")


def bad_input(detail: str) -> CloudflareError:
    """Input rejected by the model's input JSON schema: HTTP 400, code 5006 (errors page; live
    probes)."""
    return CloudflareError(400, BAD_INPUT, f"AiError: Bad input: {detail}")


def invalid_input(detail: str) -> CloudflareError:
    """Input that passes the schema but cannot be processed: HTTP 400, code 3010 (errors page)."""
    return CloudflareError(
        400, INVALID_INPUT, f"Invalid or incomplete input for the model: {detail}"
    )


def incomplete_request(what: str) -> CloudflareError:
    """Missing header or body: HTTP 400, code 3003 (errors page)."""
    return CloudflareError(400, INCOMPLETE_REQUEST, f"Request is missing headers or body: {what}")


def length_required() -> CloudflareError:
    """A body without ``Content-Length`` (e.g. chunked): HTTP 411, code 3003 (the errors page's
    message; Workers AI documents no chunked uploads, so the emulator refuses them)."""
    return CloudflareError(
        411, INCOMPLETE_REQUEST, "Request is missing headers or body: Content-Length"
    )


def request_too_large() -> CloudflareError:
    """Body above the size limit: HTTP 413, code 3006 (errors page)."""
    return CloudflareError(413, REQUEST_TOO_LARGE, "Request is too large")


def empty_text() -> CloudflareError:
    """Empty TTS text: HTTP 400, code 8007 (live probes; the message is the emulator's)."""
    return CloudflareError(400, EMPTY_TEXT, "Invalid input: text must not be empty")


def language_refused() -> CloudflareError:
    """A MeloTTS ``lang`` Workers AI refuses (es, fr): HTTP 404, code 8002 "Invalid input"
    (live probes)."""
    return CloudflareError(404, INVALID_INPUT_8002, "Invalid input")
