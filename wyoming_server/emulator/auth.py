"""Authentication and account routing, as Cloudflare's v4 API answers them.

https://developers.cloudflare.com/workers-ai/get-started/rest-api/ (``Authorization: Bearer
<token>``), the errors page (10000 / 401) and live probes (published in
https://github.com/xujialiu/Zotero-TTS, notes/NOTES_2026-09-07.md):
a wrong account ID with a valid token gets 401/10000 on ``/ai/run`` and 403/10000 on
``/ai/models/search`` (live probes), not 404/7003.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from .errors import AUTHENTICATION_ERROR, CloudflareError, authentication_error


def check_token(request: web.Request, api_token: str) -> None:
    """Accept only ``Authorization: Bearer <api_token>``.

    Raises :class:`~.errors.CloudflareError` 401/10000 for a missing, malformed or wrong token
    (the legacy ``X-Auth-Email``/``X-Auth-Key`` pair is not accepted: the emulator has no global
    API key). The comparison is constant-time.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), api_token.encode()
    ):
        raise authentication_error()


def check_account(request: web.Request, account_id: str, *, status: int = 401) -> None:
    """Accept only the emulator's own account ID.

    Raises :class:`~.errors.CloudflareError` ``status``/10000 "Authentication error" for any
    other (401 on ``/ai/run``, 403 on ``/ai/models/search``; live probes).
    """
    if request.match_info.get("account_id") != account_id:
        raise CloudflareError(status, AUTHENTICATION_ERROR, "Authentication error")
