"""The transport under :class:`~.client.WorkersAIClient`: URLs, credentials, HTTP and retries.

Every call has a connect timeout, a per-attempt timeout and an overall deadline; only errors
marked retryable (429/3040/3021, 5xx, 3001, 7009, 408, network failures) are retried, with
jittered exponential backoff, and only while the next attempt can start within the deadline (a
``Retry-After`` beyond it ends the call at once).

Protocol facts: the REST endpoint ``/accounts/{id}/ai/run/{model}`` and its v4 envelope,
https://developers.cloudflare.com/workers-ai/get-started/rest-api/; error codes,
https://developers.cloudflare.com/workers-ai/platform/errors/; AI Gateway URLs,
https://developers.cloudflare.com/ai-gateway/usage/providers/workersai/ (REST) and
https://developers.cloudflare.com/ai-gateway/usage/websockets-api/realtime-api/ (WebSocket).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)
from yarl import URL

from .errors import (
    ConnectionFailedError,
    ProtocolError,
    RequestTimeoutError,
    WorkersAIError,
    error_from_envelope,
)
from .handshake import open_websocket
from .results import parse_neurons
from .usage import UsageMeter

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_API_BASE_URL: Final = "https://api.cloudflare.com/client/v4"
"""Cloudflare's v4 API root (https://developers.cloudflare.com/api/)."""

DEFAULT_REQUEST_TIMEOUT: Final = 8.0
"""Seconds one HTTP attempt may take (voice path: fast or fail fast)."""

DEFAULT_DEADLINE: Final = 10.0
"""Seconds a call may take in all, retries and backoff included: a voice command answers or
fails within this budget."""

DEFAULT_MAX_ATTEMPTS: Final = 3

DEFAULT_CONNECT_TIMEOUT: Final = 3.0
"""Seconds to open a TCP/TLS connection or a WebSocket (handshake included)."""

UPLOAD_FORMATS: Final = ("flac", "wav")


def _retry_after(exc: BaseException) -> float:
    return (exc.retry_after or 0.0) if isinstance(exc, WorkersAIError) else 0.0


class WorkersAITransport:
    """Credentials, URLs, POST with retries and WebSocket opening for one account.

    The base of :class:`~.client.WorkersAIClient`, whose docstring describes the arguments.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        account_id: str,
        api_token: str,
        *,
        api_base_url: str = DEFAULT_API_BASE_URL,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        upload_format: str = "flac",
        gateway_token: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        if upload_format not in UPLOAD_FORMATS:
            raise ValueError(f"upload_format must be one of {UPLOAD_FORMATS}")
        self._session = session
        self.account_id = account_id.strip()
        self._api_token = api_token.strip()
        self.api_base_url = api_base_url.rstrip("/")
        self.request_timeout = request_timeout
        self.deadline = deadline
        self.max_attempts = max_attempts
        self.upload_format = upload_format
        self._gateway_token = (gateway_token or "").strip() or None
        self.connect_timeout = connect_timeout
        self.usage: UsageMeter | None = None
        """When set, every call is counted (neurons, audio seconds, characters): :mod:`.usage`."""

    def __repr__(self) -> str:  # the token stays out of reprs, logs and tracebacks
        return (
            f"{type(self).__name__}(account_id={self.account_id!r}, "
            f"api_base_url={self.api_base_url!r})"
        )

    # ------------------------------------------------------------------ URLs and transport

    @property
    def is_gateway(self) -> bool:
        """True when ``api_base_url`` is an AI Gateway ``.../workers-ai`` endpoint."""
        return self.api_base_url.endswith("/workers-ai")

    def run_url(self, model_id: str) -> URL:
        """The ``/ai/run/{model}`` URL of a model (model IDs are not percent-encoded)."""
        if self.is_gateway:
            return URL(f"{self.api_base_url}/{model_id}", encoded=True)
        return URL(
            f"{self.api_base_url}/accounts/{self.account_id}/ai/run/{model_id}", encoded=True
        )

    def websocket_url(self, model_id: str, params: Sequence[tuple[str, str]] = ()) -> URL:
        """The WebSocket URL of a model with its query ``params``.

        Direct: the run URL (``wss://api.cloudflare.com/client/v4/accounts/{id}/ai/run/{model}``).
        Through an AI Gateway the model is a query parameter of the gateway's ``workers-ai``
        endpoint: ``wss://gateway.ai.cloudflare.com/v1/{account}/{gateway}/workers-ai?model=@cf/...``
        (https://developers.cloudflare.com/ai-gateway/usage/websockets-api/realtime-api/).
        """
        if self.is_gateway:
            return URL(self.api_base_url, encoded=True).with_query([("model", model_id), *params])
        return self.run_url(model_id).with_query(list(params))

    @property
    def _auth_headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._api_token}"}
        if self._gateway_token:
            headers["cf-aig-authorization"] = f"Bearer {self._gateway_token}"
        return headers

    async def _with_retries(self, what: str, call: Callable[[], Awaitable[_T]]) -> _T:
        """Run ``call`` with retries for retryable errors, bounded by ``self.deadline``.

        Raises:
            WorkersAIError: the last error, or :class:`RequestTimeoutError` at the deadline.
        """
        base_wait = wait_random_exponential(multiplier=0.25, max=4.0)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return max(base_wait(state), _retry_after(exc) if exc else 0.0)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.deadline),
            wait=wait,
            retry=retry_if_exception(lambda e: isinstance(e, WorkersAIError) and e.retryable),
            reraise=True,
            before_sleep=lambda state: _LOGGER.warning(
                "%s failed (%s); retrying (attempt %d)",
                what,
                state.outcome.exception() if state.outcome else "?",
                state.attempt_number + 1,
            ),
        )

        async def once() -> _T:  # tenacity treats a plain callable (lambda) as synchronous
            return await call()

        try:
            async with asyncio.timeout(self.deadline):
                return await retrying(once)
        except TimeoutError as err:
            raise RequestTimeoutError(
                f"{what}: no answer within the {self.deadline:g} s deadline"
            ) from err

    async def _post(
        self,
        model_id: str,
        *,
        data: bytes | None = None,
        json_body: Mapping[str, Any] | None = None,
        params: Sequence[tuple[str, str]] = (),
        content_type: str | None = None,
    ) -> tuple[str, bytes, float | None]:
        """POST to a model's run URL; returns ``(content_type, body, neurons)`` of a 2xx answer
        (``neurons`` from the ``cf-ai-neurons`` header, ``None`` without one).

        Error answers (HTTP >= 400, or a JSON envelope with ``success: false``) raise the typed
        error of :func:`error_from_envelope`.
        """
        headers = self._auth_headers
        body = data
        if json_body is not None:
            body = json.dumps(json_body).encode()
            content_type = "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        url = self.run_url(model_id).with_query(list(params)) if params else self.run_url(model_id)

        async def attempt() -> tuple[str, bytes, float | None]:
            started = time.monotonic()
            try:
                async with self._session.post(
                    url, data=body, headers=headers, timeout=self._http_timeout
                ) as response:
                    payload = await response.read()
                    ctype = response.headers.get("Content-Type", "")
                    _LOGGER.debug(
                        "POST %s -> %d %s (%d bytes in, %d bytes out, %.0f ms)",
                        model_id,
                        response.status,
                        ctype,
                        len(body or b""),
                        len(payload),
                        (time.monotonic() - started) * 1000,
                    )
                    raise_for_response(response.status, ctype, payload, response.headers)
                    neurons = parse_neurons(response.headers.get("cf-ai-neurons"))
                    if self.usage is not None:
                        self.usage.record_rest(model_id, neurons, json_body=json_body, data=data)
                    return ctype, payload, neurons
            except TimeoutError as err:
                raise RequestTimeoutError(
                    f"{model_id}: no answer within {self.request_timeout:g} s"
                ) from err
            except aiohttp.ClientError as err:
                raise ConnectionFailedError(f"{model_id}: {type(err).__name__}: {err}") from err

        return await self._with_retries(f"POST {model_id}", attempt)

    @property
    def _http_timeout(self) -> aiohttp.ClientTimeout:
        """Per attempt: ``connect_timeout`` to connect, ``request_timeout`` in all."""
        return aiohttp.ClientTimeout(
            total=self.request_timeout,
            sock_connect=self.connect_timeout,
            connect=self.connect_timeout,
        )

    async def _post_json_result(
        self, model_id: str, **kwargs: Any
    ) -> tuple[Mapping[str, Any], float | None]:
        """POST and return the envelope's ``result`` object (v4 envelope) and the neurons."""
        _, payload, neurons = await self._post(model_id, **kwargs)
        envelope = parse_envelope(payload)
        result = envelope.get("result")
        if not isinstance(result, Mapping):
            raise ProtocolError(f"{model_id}: envelope has no result object")
        return result, neurons

    async def _ws_connect(
        self, model_id: str, params: Sequence[tuple[str, str]], *, autoclose: bool = True
    ) -> aiohttp.ClientWebSocketResponse:
        """Open the model's WebSocket with this account's credentials (:func:`open_websocket`).

        Raises:
            WorkersAIError: the typed error of a refused handshake, or ConnectionFailedError /
                RequestTimeoutError.
        """
        return await open_websocket(
            self._session,
            self.websocket_url(model_id, params),
            model_id=model_id,
            headers=self._auth_headers,
            connect_timeout=self.connect_timeout,
            autoclose=autoclose,
        )

    async def preconnect(self) -> None:
        """Open a pooled connection to the API host ahead of a request (no neurons used).

        Sends ``HEAD`` to :attr:`api_base_url` without credentials; whatever the answer, the
        kept-alive connection lets the next request or WebSocket handshake skip the TCP and TLS
        handshakes (two round trips). Never raises: the real request reports any failure.
        """
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
            async with self._session.head(
                URL(f"{self.api_base_url}/", encoded=True),
                timeout=aiohttp.ClientTimeout(total=self.connect_timeout),
                allow_redirects=False,
            ):
                pass


def raise_for_response(
    status: int, content_type: str, payload: bytes, headers: Mapping[str, str]
) -> None:
    """Raise the typed error for an error answer; return for success.

    An error is HTTP >= 400, or a JSON v4 envelope with ``success: false``
    (https://developers.cloudflare.com/workers-ai/get-started/rest-api/); a ``Retry-After``
    header is kept on the error.

    Raises:
        WorkersAIError: the error of :func:`error_from_envelope`; ProtocolError for a JSON
            answer that does not parse.
    """
    is_json = content_type.startswith("application/json")
    if status < 400 and not is_json:
        return
    body: Mapping[str, Any] | None = None
    if is_json or payload[:1] == b"{":
        try:
            parsed = json.loads(payload)
            body = parsed if isinstance(parsed, Mapping) else None
        except ValueError:
            body = None
    if status < 400 and body is not None and body.get("success") is not False:
        return
    if status < 400 and body is None:
        raise ProtocolError("answer is not valid JSON", status=status)
    if body is None:
        text = payload[:200].decode("utf-8", "replace").strip()
        body = {"errors": [{"message": text or f"HTTP {status}"}]}
    error = error_from_envelope(status, body)
    retry_after = headers.get("Retry-After")
    if retry_after and retry_after.isdigit():
        error.retry_after = float(retry_after)
    raise error


def parse_envelope(payload: bytes) -> Mapping[str, Any]:
    """The v4 envelope of a successful JSON answer.

    Raises:
        ProtocolError: not JSON, or not ``success: true``.
    """
    try:
        envelope = json.loads(payload)
    except ValueError as err:
        raise ProtocolError("answer is not valid JSON") from err
    if not isinstance(envelope, Mapping) or envelope.get("success") is not True:
        raise ProtocolError("answer is not a successful v4 envelope")
    return envelope
