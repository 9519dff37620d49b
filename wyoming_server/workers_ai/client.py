"""Workers AI client for the speech models.

One :class:`WorkersAIClient` per account; it borrows an :class:`aiohttp.ClientSession` that the
caller owns (Home Assistant's shared session, or the Wyoming server's). Its parts, one module
each:

- :mod:`.transport`: URLs, credentials, POST with retries inside a time budget;
- :mod:`.handshake`: opening a WebSocket and classifying a refused handshake;
- :mod:`.speech_to_text`: ``transcribe``, ``transcribe_pcm``, ``listen``;
- :mod:`.text_to_speech`: ``synthesize``, ``synthesize_pcm``, ``speak``;
- this module: the client itself and the account check (``verify``).

Protocol facts: https://developers.cloudflare.com/workers-ai/ (REST ``/ai/run``, the v4
envelope, errors, the model pages), AI Gateway
https://developers.cloudflare.com/ai-gateway/usage/websockets-api/realtime-api/ and the
Deepgram protocols (see :mod:`.streaming`).
"""

from __future__ import annotations

import aiohttp
from yarl import URL

from .errors import ConnectionFailedError, RequestTimeoutError
from .language_tags import nova3_language
from .speech_to_text import SpeechToText
from .text_to_speech import TextToSpeech
from .transport import (
    DEFAULT_API_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_DEADLINE,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_REQUEST_TIMEOUT,
    UPLOAD_FORMATS,
    parse_envelope,
    raise_for_response,
)

__all__ = [
    "DEFAULT_API_BASE_URL",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_REQUEST_TIMEOUT",
    "UPLOAD_FORMATS",
    "WorkersAIClient",
    "nova3_language",
]


class WorkersAIClient(SpeechToText, TextToSpeech):
    """Client for the Workers AI speech models (REST and WebSocket).

    Args:
        session: an open aiohttp session; not closed by this client.
        account_id: the Cloudflare account ID (32 hex digits).
        api_token: an API token with Workers AI permission. Sent only in the
            ``Authorization`` header; never logged or put in an error message.
        api_base_url: the v4 API root (default Cloudflare's); the emulator's
            ``http://127.0.0.1:PORT/client/v4``; or a Cloudflare AI Gateway URL ending in
            ``/workers-ai`` (``https://gateway.ai.cloudflare.com/v1/{account}/{gateway}/workers-ai``),
            to which the model ID is appended directly
            (https://developers.cloudflare.com/ai-gateway/usage/providers/workersai/).
        request_timeout: seconds per HTTP attempt.
        deadline: seconds for a whole call, retries included.
        max_attempts: attempts per call, first one included.
        upload_format: how :meth:`transcribe_pcm` uploads PCM to REST models: ``"flac"``
            (lossless, about half the bytes of WAV; see benchmarks/) or ``"wav"``.
        gateway_token: an AI Gateway token, sent as ``cf-aig-authorization: Bearer ...`` to an
            authenticated gateway; never logged. See
            https://developers.cloudflare.com/ai-gateway/configuration/authentication/
        connect_timeout: seconds to connect (TCP + TLS, WebSocket handshake included).
    """

    # ------------------------------------------------------------------ account

    async def verify(self) -> None:
        """Check the account ID and token with a real Workers AI call.

        Calls ``GET /accounts/{id}/ai/models/search`` (no neurons used). Through an AI Gateway,
        which has no such route, transcribes 0.1 s of silence with whisper-tiny-en instead.

        Raises:
            AuthenticationError: wrong token or wrong account ID (10000; Workers AI answers a
                wrong account ID with 401 on ``/ai/run`` and 403 on the models search).
            AccountNotFoundError: an account ID that does not route (7003; not what live
                probes of Workers AI got, kept for other v4 front ends).
            ConnectionFailedError, RequestTimeoutError: the API cannot be reached.
        """
        if self.is_gateway:
            await self.transcribe_pcm("@cf/openai/whisper-tiny-en", bytes(3200), 16000)
            return
        url = URL(
            f"{self.api_base_url}/accounts/{self.account_id}/ai/models/search", encoded=True
        ).with_query({"task": "Automatic Speech Recognition", "per_page": "1"})

        async def attempt() -> None:
            try:
                async with self._session.get(
                    url, headers=self._auth_headers, timeout=self._http_timeout
                ) as response:
                    payload = await response.read()
                    ctype = response.headers.get("Content-Type", "")
                    raise_for_response(response.status, ctype, payload, response.headers)
                    parse_envelope(payload)
            except TimeoutError as err:
                raise RequestTimeoutError("verify: no answer") from err
            except aiohttp.ClientError as err:
                raise ConnectionFailedError(f"verify: {type(err).__name__}: {err}") from err

        await self._with_retries("verify", attempt)
