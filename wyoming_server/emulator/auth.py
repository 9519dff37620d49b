"""Authentication and account routing, as Cloudflare's v4 API answers them.

workers-ai-speech-api.md §1.2 (``Authorization: Bearer <token>``), §2.1 (10000 / 401) and
cloudflare/workers-sdk#2100 (7003 / 404 for an account ID that does not route).
"""

from __future__ import annotations

import hmac

from aiohttp import web

from .errors import authentication_error, routing_error


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


def check_account(request: web.Request, account_id: str) -> None:
    """Accept only the emulator's own account ID.

    Raises :class:`~.errors.CloudflareError` 404/7003 ("Could not route to <path>, perhaps your
    object identifier is invalid?") for any other.
    """
    if request.match_info.get("account_id") != account_id:
        raise routing_error(request.path)
