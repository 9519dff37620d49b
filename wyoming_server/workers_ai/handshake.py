"""Opening a Workers AI WebSocket, and the typed error of a refused handshake.

The WebSocket endpoint is the model's run URL, upgraded with the same ``Authorization`` header
as REST (https://developers.cloudflare.com/workers-ai/models/nova-3/, "WebSocket" tab). A
refused upgrade carries the same v4 JSON error body as a REST call (code 10000, 5035, 4006,
3036, 3021 with ``Retry-After``; https://developers.cloudflare.com/workers-ai/platform/errors/),
but aiohttp drops that body (``WSServerHandshakeError`` has only status and headers,
https://github.com/aio-libs/aiohttp/issues/2279): :func:`read_refused_body` asks once more
without upgrading and reads it, so that the refusal is classified by its code, not its status.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import aiohttp
from yarl import URL

from .errors import (
    AccountNotFoundError,
    AuthenticationError,
    ConnectionFailedError,
    RequestTimeoutError,
    WorkersAIError,
    error_from_envelope,
)

_LOGGER = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest WebSocket message accepted (aura sends audio frames of a few kB)."""


async def open_websocket(
    session: aiohttp.ClientSession,
    url: URL,
    *,
    model_id: str,
    headers: Mapping[str, str],
    connect_timeout: float,
    autoclose: bool = True,
) -> aiohttp.ClientWebSocketResponse:
    """Open the WebSocket at ``url`` (GET + upgrade) within ``connect_timeout`` seconds,
    handshake included.

    Raises:
        WorkersAIError: the typed error of a refused handshake
            (:func:`refused_handshake_error`), or ConnectionFailedError / RequestTimeoutError.
    """
    try:
        async with asyncio.timeout(connect_timeout):
            return await session.ws_connect(
                url,
                headers=dict(headers),
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                autoping=True,
                autoclose=autoclose,
                max_msg_size=MAX_MESSAGE_BYTES,
            )
    except aiohttp.WSServerHandshakeError as err:
        raise await refused_handshake_error(
            session, url, err, model_id=model_id, headers=headers, timeout=connect_timeout
        ) from err
    except TimeoutError as err:
        raise RequestTimeoutError(
            f"{model_id}: WebSocket not open within {connect_timeout:g} s"
        ) from err
    except aiohttp.ClientError as err:
        raise ConnectionFailedError(f"{model_id}: {type(err).__name__}: {err}") from err


async def read_refused_body(
    session: aiohttp.ClientSession, url: URL, headers: Mapping[str, str], timeout: float
) -> tuple[int, bytes] | None:
    """Send the refused upgrade request once more as a plain GET and return its
    ``(status, body)``, or ``None`` when that fails or takes over ``timeout`` seconds.

    Only an error answer (HTTP >= 400) is read; any other comes back with an empty body."""
    upgrade = {
        **headers,
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
    }
    try:
        async with (
            asyncio.timeout(timeout),
            session.get(url, headers=upgrade, allow_redirects=False) as response,
        ):
            return response.status, (await response.read() if response.status >= 400 else b"")
    except (aiohttp.ClientError, TimeoutError) as err:
        _LOGGER.debug("%s: cannot read the refused handshake: %s", url.path, err)
        return None


async def refused_handshake_error(
    session: aiohttp.ClientSession,
    url: URL,
    err: aiohttp.WSServerHandshakeError,
    *,
    model_id: str,
    headers: Mapping[str, str],
    timeout: float,
) -> WorkersAIError:
    """The typed error of a refused WebSocket handshake, from its v4 JSON body
    (:func:`read_refused_body`); without a readable body the HTTP status decides
    (:func:`handshake_error`). A ``Retry-After`` of the refusal is kept on the error."""
    status = err.status
    body: Mapping[str, Any] | None = None
    answer = await read_refused_body(session, url, headers, timeout) if status >= 400 else None
    if answer is not None and answer[0] >= 400:
        try:
            parsed = json.loads(answer[1])
        except ValueError as parse_error:
            _LOGGER.debug("%s: refused handshake body: %s", model_id, parse_error)
        else:
            body = parsed if isinstance(parsed, Mapping) else None
            status = answer[0]
    error = (
        error_from_envelope(status, body)
        if body is not None and body.get("errors")
        else handshake_error(model_id, status)
    )
    if not error.message or error.message == error.default_message:
        error.message = f"{model_id}: WebSocket handshake refused"
    retry_after = err.headers.get("Retry-After") if err.headers is not None else None
    if retry_after and retry_after.isdigit():
        error.retry_after = float(retry_after)
    return error


def handshake_error(model_id: str, status: int) -> WorkersAIError:
    """The typed error of a refused WebSocket handshake from its HTTP status alone.

    401 is always code 10000 (https://developers.cloudflare.com/workers-ai/platform/errors/);
    404 on a run URL means the account does not route (7003), since model IDs come from the
    catalog.
    """
    message = f"{model_id}: WebSocket handshake refused"
    if status == 401:
        return AuthenticationError(message, status=status, code=10000)
    if status == 404:
        return AccountNotFoundError(message, status=status)
    return error_from_envelope(status, {"errors": [{"message": message}]})
