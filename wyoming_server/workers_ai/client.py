"""Workers AI REST client for the speech models.

One :class:`WorkersAIClient` per account; it borrows an :class:`aiohttp.ClientSession` that the
caller owns (Home Assistant's shared session, or the Wyoming server's). Every call has a
connect timeout, a per-attempt timeout and an overall deadline; only errors marked retryable
(429/3040/3021, 5xx, 3001, 7009, 408, network failures) are retried, with jittered exponential
backoff, and only while the next attempt can start within the deadline (a ``Retry-After``
beyond it ends the call at once).

Protocol facts: https://developers.cloudflare.com/workers-ai/ (REST ``/ai/run``, the v4
envelope, errors, the model pages), AI Gateway
https://developers.cloudflare.com/ai-gateway/usage/websockets-api/realtime-api/ and the
Deepgram protocols (see streaming.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
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

from . import audio
from .catalog import (
    FLUX,
    NOVA3_LANGUAGES,
    InputConvention,
    SpeechModel,
    Task,
    get_model,
)
from .errors import (
    AccountNotFoundError,
    AuthenticationError,
    ConnectionFailedError,
    InvalidInputError,
    ProtocolError,
    RequestTimeoutError,
    WorkersAIError,
    error_from_envelope,
)
from .results import SynthesizedAudio, Transcription, Word, words_from_json
from .streaming import (
    ListenSession,
    SpeakSession,
    connect_listen,
    connect_speak,
    parse_neurons,
)
from .text import split_text
from .usage import Transport, UsageMeter

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_API_BASE_URL: Final = "https://api.cloudflare.com/client/v4"
"""Cloudflare's v4 API root (doc §1.1)."""

DEFAULT_REQUEST_TIMEOUT: Final = 8.0
"""Seconds one HTTP attempt may take (voice path: fast or fail fast)."""

DEFAULT_DEADLINE: Final = 10.0
"""Seconds a call may take in all, retries and backoff included: a voice command answers or
fails within this budget."""

DEFAULT_MAX_ATTEMPTS: Final = 3

DEFAULT_CONNECT_TIMEOUT: Final = 3.0
"""Seconds to open a TCP/TLS connection or a WebSocket (handshake included)."""

UPLOAD_FORMATS: Final = ("flac", "wav")


def _query_value(value: str | bool | int | float) -> str:
    """Query values are strings; booleans as ``true``/``false`` (doc §3.1)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _base_language(language: str | None) -> str | None:
    """``en-US`` / ``en_US`` → ``en`` (ISO 639-1, as Whisper expects)."""
    if not language:
        return None
    return language.replace("_", "-").split("-")[0].lower()


def nova3_language(language: str | None) -> str | None:
    """Map a BCP-47 tag to one nova-3 accepts (doc §4.4 language list), or ``None``.

    Exact tags win (``en-GB``), then the base language (``de-AT`` → ``de``); ``None`` means
    "not supported": callers then leave the language to nova-3's automatic detection.
    """
    if not language:
        return None
    tag = language.replace("_", "-")
    by_folded = {code.casefold(): code for code in NOVA3_LANGUAGES}
    if tag.casefold() in by_folded:
        return by_folded[tag.casefold()]
    base = _base_language(tag)
    return by_folded.get(base) if base else None


def _retry_after(exc: BaseException) -> float:
    return (exc.retry_after or 0.0) if isinstance(exc, WorkersAIError) else 0.0


class WorkersAIClient:
    """Client for the Workers AI speech models (REST and WebSocket).

    Args:
        session: an open aiohttp session; not closed by this client.
        account_id: the Cloudflare account ID (32 hex digits).
        api_token: an API token with Workers AI permission. Sent only in the
            ``Authorization`` header; never logged or put in an error message.
        api_base_url: the v4 API root (default Cloudflare's); the emulator's
            ``http://127.0.0.1:PORT/client/v4``; or a Cloudflare AI Gateway URL ending in
            ``/workers-ai`` (``https://gateway.ai.cloudflare.com/v1/{account}/{gateway}/workers-ai``),
            to which the model ID is appended directly (doc §1.6).
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
        """When set, every call is counted (neurons, audio seconds, characters): usage.py."""

    def __repr__(self) -> str:  # the token stays out of reprs, logs and tracebacks
        return (
            f"WorkersAIClient(account_id={self.account_id!r}, api_base_url={self.api_base_url!r})"
        )

    # ------------------------------------------------------------------ URLs and transport

    @property
    def is_gateway(self) -> bool:
        """True when ``api_base_url`` is an AI Gateway ``.../workers-ai`` endpoint."""
        return self.api_base_url.endswith("/workers-ai")

    def run_url(self, model_id: str) -> URL:
        """The ``/ai/run/{model}`` URL of a model (doc §1.1; model IDs are not percent-encoded)."""
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
                    _raise_for_response(response.status, ctype, payload, response.headers)
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
        envelope = _parse_envelope(payload)
        result = envelope.get("result")
        if not isinstance(result, Mapping):
            raise ProtocolError(f"{model_id}: envelope has no result object")
        return result, neurons

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
                    _raise_for_response(response.status, ctype, payload, response.headers)
                    _parse_envelope(payload)
            except TimeoutError as err:
                raise RequestTimeoutError("verify: no answer") from err
            except aiohttp.ClientError as err:
                raise ConnectionFailedError(f"verify: {type(err).__name__}: {err}") from err

        await self._with_retries("verify", attempt)

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

    # ------------------------------------------------------------------ speech to text

    async def transcribe(
        self,
        model_id: str,
        audio_file: bytes,
        *,
        content_type: str = "audio/wav",
        language: str | None = None,
        initial_prompt: str | None = None,
        vad_filter: bool | None = None,
        keyterms: Sequence[str] = (),
    ) -> Transcription:
        """Transcribe an audio file with a REST ASR model.

        Args:
            model_id: ``@cf/openai/whisper``, ``whisper-tiny-en``, ``whisper-large-v3-turbo``
                or ``@cf/deepgram/nova-3`` (full ID or short name).
            audio_file: the whole file (WAV, FLAC, MP3, ...).
            content_type: its MIME type (sent to nova-3 as ``Content-Type``, doc §4.4).
            language: BCP-47 hint. turbo gets the ISO 639-1 part (§4.3); nova-3 a tag from its
                list or automatic detection (§4.4); whisper and whisper-tiny-en take none (§4.1).
            initial_prompt: turbo only: text that primes the decoder.
            vad_filter: turbo only: run VAD first.
            keyterms: nova-3 only: ``keyterm`` query parameters (one per term).

        Raises:
            InvalidInputError: not a REST ASR model (flux is WebSocket-only), or rejected input.
            WorkersAIError: any other API failure (see errors.py).
        """
        model = _asr_model(model_id)
        if not audio_file:
            raise InvalidInputError("no audio to transcribe")
        if model.input is InputConvention.RAW_AUDIO:
            result, neurons = await self._post_json_result(
                model.model_id, data=audio_file, content_type=content_type
            )
            return replace(_parse_whisper(model.model_id, result, language), neurons=neurons)
        if model.input is InputConvention.BASE64_JSON:
            body: dict[str, Any] = {"audio": base64.b64encode(audio_file).decode("ascii")}
            if lang := _base_language(language):
                body["language"] = lang
            if initial_prompt:
                body["initial_prompt"] = initial_prompt
            if vad_filter is not None:
                body["vad_filter"] = vad_filter
            result, neurons = await self._post_json_result(model.model_id, json_body=body)
            return replace(_parse_whisper_turbo(model.model_id, result, language), neurons=neurons)
        if model.input is InputConvention.RAW_AUDIO_QUERY_OPTIONS:
            params = [("punctuate", "true"), ("smart_format", "true")]
            if lang := nova3_language(language):
                params.append(("language", lang))
            else:
                params.append(("detect_language", "true"))
            params.extend(("keyterm", term) for term in keyterms if lang)
            result, neurons = await self._post_json_result(
                model.model_id, data=audio_file, content_type=content_type, params=params
            )
            return replace(_parse_nova3(model.model_id, result, language), neurons=neurons)
        raise InvalidInputError(
            f"{model.model_id} has no REST form; stream PCM to it (transcribe_pcm or listen)"
        )

    async def transcribe_pcm(
        self,
        model_id: str,
        pcm: bytes,
        sample_rate: int,
        *,
        language: str | None = None,
        keyterms: Sequence[str] = (),
        **options: Any,
    ) -> Transcription:
        """Transcribe a whole utterance of mono s16le PCM with any ASR model.

        REST models get one upload in :attr:`upload_format` (FLAC by default); WebSocket-only
        models (flux) get the PCM streamed through a :class:`ListenSession`.

        Args:
            pcm: mono signed 16-bit little-endian samples.
            sample_rate: Hz.
            options: passed to :meth:`transcribe` (REST) or :meth:`listen` (WebSocket).

        Raises:
            WorkersAIError: see :meth:`transcribe` and :meth:`listen`.
        """
        model = _asr_model(model_id)
        if not pcm:
            raise InvalidInputError("no audio to transcribe")
        if not model.rest:
            async with self.listen(
                model.model_id,
                sample_rate=sample_rate,
                language=language,
                interim_results=False,
                keyterms=keyterms,
                **options,
            ) as session:
                await session.send_audio(pcm)
                return await session.finish()
        if self.upload_format == "flac":  # CPU work: off the event loop
            data = await asyncio.to_thread(audio.encode_flac, pcm, sample_rate)
            ctype = "audio/flac"
        else:
            data, ctype = audio.pcm_to_wav(pcm, sample_rate), "audio/wav"
        return await self.transcribe(
            model.model_id,
            data,
            content_type=ctype,
            language=language,
            keyterms=keyterms,
            **options,
        )

    @asynccontextmanager
    async def listen(
        self,
        model_id: str,
        *,
        sample_rate: int,
        language: str | None = None,
        interim_results: bool = True,
        keyterms: Sequence[str] = (),
        endpointing_ms: int | None = None,
        eot_threshold: float | None = None,
        eager_eot_threshold: float | None = None,
        eot_timeout_ms: int | None = None,
    ) -> AsyncIterator[ListenSession]:
        """Open a streaming ASR WebSocket session (nova-3: listen v1; flux: listen v2).

        The session takes mono s16le PCM at ``sample_rate`` Hz. nova-3 options: ``language``,
        ``interim_results``, ``keyterms``, ``endpointing_ms`` (doc §4.5). flux options:
        ``eot_threshold`` (0.5-0.9), ``eager_eot_threshold`` (0.3-0.9), ``eot_timeout_ms``,
        ``keyterms`` (doc §4.6).

        Raises:
            InvalidInputError: the model has no WebSocket form.
            AuthenticationError, AccountNotFoundError, ...: the handshake was refused.
        """
        model = _asr_model(model_id)
        if not model.websocket:
            raise InvalidInputError(f"{model.model_id} has no WebSocket form")
        params: list[tuple[str, str]] = [
            ("encoding", "linear16"),
            ("sample_rate", str(sample_rate)),
        ]
        if model.model_id == FLUX:
            if eot_threshold is not None:
                params.append(("eot_threshold", _query_value(eot_threshold)))
            if eager_eot_threshold is not None:
                params.append(("eager_eot_threshold", _query_value(eager_eot_threshold)))
            if eot_timeout_ms is not None:
                params.append(("eot_timeout_ms", str(eot_timeout_ms)))
            params.extend(("keyterm", term) for term in keyterms)
        else:
            params += [
                ("channels", "1"),
                ("interim_results", _query_value(interim_results)),
                ("punctuate", "true"),
                ("smart_format", "true"),
            ]
            lang = nova3_language(language)
            params.append(("language", lang or "multi"))
            if endpointing_ms is not None:
                params.append(("endpointing", str(endpointing_ms)))
            if lang:  # keyterms are rejected with multilingual routing (doc §4.4)
                params.extend(("keyterm", term) for term in keyterms)
        ws = await self._with_retries(
            f"connect {model.model_id}",
            lambda: self._ws_connect(model.model_id, params, autoclose=False),
        )
        session = await connect_listen(
            ws, model.model_id, sample_rate=sample_rate, language=language
        )
        try:
            yield session
        finally:
            await session.aclose()
            if self.usage is not None and (session.audio_bytes_sent or session.neurons):
                # A handshake's cf-ai-neurons comes before any audio: 0 is no session cost, so
                # the session is estimated from the audio sent unless it says more.
                self.usage.record(
                    model.model_id,
                    Transport.WEBSOCKET,
                    neurons=session.neurons or None,
                    audio_seconds=session.audio_bytes_sent / 2 / sample_rate,
                )

    # ------------------------------------------------------------------ text to speech

    async def synthesize(
        self,
        model_id: str,
        text: str,
        *,
        speaker: str | None = None,
        language: str | None = None,
        encoding: str | None = None,
        sample_rate: int | None = None,
        container: str | None = None,
    ) -> SynthesizedAudio:
        """Synthesize ``text`` with a REST TTS model.

        aura-*: JSON ``{text, speaker, encoding?, container?, sample_rate?}``; the answer body is
        the audio itself. melotts: JSON ``{prompt, lang}``; the answer is an envelope with
        base64 audio, WAV in practice. ``content_type`` of the result is read from the bytes:
        ``audio/wav``, ``audio/mpeg``, ``audio/flac``, ``audio/ogg``, or ``audio/l16`` for raw
        PCM (only when raw linear16 was asked for and no container came).

        Text longer than the model's ``max_text_chars`` can only be returned as raw PCM
        (``encoding="linear16"``, ``container="none"``): it is then sent as several requests,
        split at sentence ends (:func:`text.split_text`), and the PCM concatenated. Encoded
        files (MP3, WAV) do not concatenate into one valid file: use :meth:`synthesize_pcm`,
        which splits any text.

        Raises:
            InvalidInputError: empty text, unknown speaker or language, not a TTS model.
            WorkersAIError: any other API failure.
        """
        model, pieces = _tts_pieces(model_id, text)
        if len(pieces) > 1 and (encoding, container) != ("linear16", "none"):
            raise InvalidInputError(
                f"{model.model_id} takes at most {model.max_text_chars} characters per request "
                f"and {encoding or 'mp3'} audio does not concatenate; use synthesize_pcm"
            )
        parts = [
            await self._synthesize_one(
                model,
                piece,
                speaker=speaker,
                language=language,
                encoding=encoding,
                sample_rate=sample_rate,
                container=container,
            )
            for piece in pieces
        ]
        costs = [part.neurons for part in parts if part.neurons is not None]
        return SynthesizedAudio(
            b"".join(part.audio for part in parts),
            parts[0].content_type,
            parts[0].sample_rate,
            sum(costs) if costs else None,
        )

    async def _synthesize_one(
        self,
        model: SpeechModel,
        text: str,
        *,
        speaker: str | None,
        language: str | None,
        encoding: str | None,
        sample_rate: int | None,
        container: str | None,
    ) -> SynthesizedAudio:
        """One REST TTS request (see :meth:`synthesize`).

        The audio container is read from the bytes (:func:`audio.sniff_container`), never
        assumed from the model or the request: MeloTTS answers WAV although its schema says
        MP3, and aura may answer MP3 although ``encoding=linear16`` was asked for.
        """
        if model.input is InputConvention.PROMPT_JSON_BASE64_MP3:
            lang = _base_language(language) or model.languages[0]
            if lang not in model.languages:
                raise InvalidInputError(f"{model.model_id} does not speak {language!r}")
            result, neurons = await self._post_json_result(
                model.model_id, json_body={"prompt": text, "lang": lang}
            )
            encoded = result.get("audio")
            if not isinstance(encoded, str):
                raise ProtocolError(f"{model.model_id}: result has no base64 audio")
            try:
                data = base64.b64decode(encoded, validate=True)
            except ValueError as err:
                raise ProtocolError(f"{model.model_id}: audio is not base64") from err
            return _labelled_audio(model.model_id, data, None, neurons)
        speaker = speaker or model.default_speaker
        if speaker not in model.speakers:
            raise InvalidInputError(f"{model.model_id} has no speaker {speaker!r}")
        body: dict[str, Any] = {"text": text, "speaker": speaker}
        if encoding:
            body["encoding"] = encoding
        if container:
            body["container"] = container
        if sample_rate:
            body["sample_rate"] = sample_rate
        ctype, payload, neurons = await self._post(model.model_id, json_body=body)
        if ctype.startswith("application/json"):
            # Defensive: one observed client gets {"result": {"audio": base64}}.
            envelope_result = _parse_envelope(payload).get("result")
            encoded = envelope_result.get("audio") if isinstance(envelope_result, Mapping) else None
            if not isinstance(encoded, str):
                raise ProtocolError(f"{model.model_id}: JSON answer without audio")
            payload = base64.b64decode(encoded)
        if not payload:
            raise ProtocolError(f"{model.model_id}: empty audio")
        raw_rate = sample_rate if (encoding, container) == ("linear16", "none") else None
        return _labelled_audio(model.model_id, payload, raw_rate, neurons)

    async def synthesize_pcm(
        self,
        model_id: str,
        text: str,
        *,
        speaker: str | None = None,
        language: str | None = None,
        sample_rate: int = 24000,
    ) -> audio.PcmAudio:
        """Synthesize ``text`` to mono s16le PCM over REST.

        aura-* are asked for raw linear16 at ``sample_rate`` Hz (no decoding); a container that
        comes anyway (WAV, or MP3 when Workers AI ignores ``encoding``) is decoded, as is
        melotts' WAV, and resampled to ``sample_rate``.
        Text longer than the model's ``max_text_chars`` is split at sentence ends
        (:func:`text.split_text`) into several requests whose PCM is concatenated.

        Raises:
            WorkersAIError: see :meth:`synthesize`; ProtocolError for undecodable audio.
        """
        model, pieces = _tts_pieces(model_id, text)
        pcm = b"".join(
            [
                (await self._synthesize_pcm_one(model, piece, speaker, language, sample_rate)).pcm
                for piece in pieces
            ]
        )
        return audio.PcmAudio(pcm, sample_rate)

    async def _synthesize_pcm_one(
        self,
        model: SpeechModel,
        text: str,
        speaker: str | None,
        language: str | None,
        sample_rate: int,
    ) -> audio.PcmAudio:
        """One piece of :meth:`synthesize_pcm`: one request, decoded."""
        if model.input is InputConvention.TEXT_JSON_AUDIO_BODY:
            result = await self.synthesize(
                model.model_id,
                text,
                speaker=speaker,
                encoding="linear16",
                container="none",
                sample_rate=sample_rate,
            )
            if result.content_type == "audio/l16":  # raw PCM, as asked: nothing to decode
                return audio.PcmAudio(result.audio[: len(result.audio) // 2 * 2], sample_rate)
            data = result.audio  # a container (MP3 despite linear16, WAV): decode it
        else:
            data = (await self.synthesize(model.model_id, text, language=language)).audio
        try:
            return await asyncio.to_thread(audio.decode_audio, data, sample_rate=sample_rate)
        except audio.AudioFormatError as err:
            raise ProtocolError(f"{model.model_id}: {err}") from err

    @asynccontextmanager
    async def speak(
        self,
        model_id: str,
        *,
        speaker: str | None = None,
        sample_rate: int = 24000,
    ) -> AsyncIterator[SpeakSession]:
        """Open an aura WebSocket session (Deepgram speak v1, doc §5.4): linear16 PCM out.

        Raises:
            InvalidInputError: not an aura model, unknown speaker, unsupported sample rate.
            AuthenticationError, ...: the handshake was refused.
        """
        model = get_model(model_id)
        if model.task is not Task.TTS or not model.websocket:
            raise InvalidInputError(f"{model.model_id} has no text-to-speech WebSocket")
        speaker = speaker or model.default_speaker
        if speaker not in model.speakers:
            raise InvalidInputError(f"{model.model_id} has no speaker {speaker!r}")
        params = [
            ("speaker", speaker or ""),
            ("encoding", "linear16"),
            ("sample_rate", str(sample_rate)),
        ]
        ws = await self._with_retries(
            f"connect {model.model_id}", lambda: self._ws_connect(model.model_id, params)
        )
        session = await connect_speak(ws, model.model_id, sample_rate=sample_rate)
        try:
            yield session
        finally:
            await session.aclose()
            if self.usage is not None and (session.characters_sent or session.neurons):
                self.usage.record(  # an unused (spare) session costs nothing and is not counted
                    model.model_id,
                    Transport.WEBSOCKET,
                    neurons=session.neurons or None,  # see listen()
                    characters=session.characters_sent,
                )

    async def _ws_connect(
        self, model_id: str, params: Sequence[tuple[str, str]], *, autoclose: bool = True
    ) -> aiohttp.ClientWebSocketResponse:
        """Open the model's WebSocket (GET + upgrade, Bearer header), within
        ``connect_timeout`` seconds, handshake included.

        Raises:
            WorkersAIError: the typed error for a refused handshake, classified from its v4
                JSON body (:meth:`_refused_handshake`), or ConnectionFailedError /
                RequestTimeoutError.
        """
        url = self.websocket_url(model_id, params)
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await self._session.ws_connect(
                    url,
                    headers=self._auth_headers,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                    autoping=True,
                    autoclose=autoclose,
                    max_msg_size=16 * 1024 * 1024,
                )
        except aiohttp.WSServerHandshakeError as err:
            raise await self._refused_handshake(model_id, url, err) from err
        except TimeoutError as err:
            raise RequestTimeoutError(
                f"{model_id}: WebSocket not open within {self.connect_timeout:g} s"
            ) from err
        except aiohttp.ClientError as err:
            raise ConnectionFailedError(f"{model_id}: {type(err).__name__}: {err}") from err

    async def _refused_handshake(
        self, model_id: str, url: URL, err: aiohttp.WSServerHandshakeError
    ) -> WorkersAIError:
        """The typed error of a refused WebSocket handshake, from its v4 JSON body.

        Workers AI refuses a handshake with the same JSON body as a REST call (4006/3036 daily
        allocation, 3021 + ``Retry-After``, 10000, 5035). aiohttp drops that body
        (``WSServerHandshakeError`` has only status and headers,
        https://github.com/aio-libs/aiohttp/issues/2279), so the same upgrade request is sent
        once more as a plain request and its body read, within ``connect_timeout``. Without a
        readable body the HTTP status decides.
        """
        status = err.status
        body: Mapping[str, Any] | None = None
        if status >= 400:
            headers = {
                **self._auth_headers,
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            }
            try:
                async with (
                    asyncio.timeout(self.connect_timeout),
                    self._session.get(url, headers=headers, allow_redirects=False) as response,
                ):
                    if response.status >= 400:
                        parsed = json.loads(await response.read())
                        body = parsed if isinstance(parsed, Mapping) else None
                        status = response.status
            except (aiohttp.ClientError, TimeoutError, ValueError) as probe_error:
                _LOGGER.debug("%s: cannot read the refused handshake: %s", model_id, probe_error)
        error = (
            error_from_envelope(status, body)
            if body is not None and body.get("errors")
            else _handshake_error(model_id, status)
        )
        if not error.message or error.message == error.default_message:
            error.message = f"{model_id}: WebSocket handshake refused"
        retry_after = err.headers.get("Retry-After") if err.headers is not None else None
        if retry_after and retry_after.isdigit():
            error.retry_after = float(retry_after)
        return error


# ---------------------------------------------------------------------- response parsing


def _labelled_audio(
    model_id: str, data: bytes, raw_rate: int | None, neurons: float | None
) -> SynthesizedAudio:
    """TTS bytes labelled by what they are (:func:`audio.sniff_container`).

    ``raw_rate``: the rate of raw linear16 that was asked for; bytes without a container are
    then PCM (``audio/l16``). Anything else without a recognisable container is an error.

    Raises:
        ProtocolError: neither a known container nor raw PCM that was asked for.
    """
    container = audio.sniff_container(data)
    if container is None:
        if raw_rate is None:
            raise ProtocolError(f"{model_id}: answer is not audio in a known container")
        return SynthesizedAudio(data, "audio/l16", raw_rate, neurons)
    rate = audio.wav_sample_rate(data) if container == "wav" else None
    return SynthesizedAudio(data, audio.CONTAINER_TYPES[container], rate, neurons)


def _tts_pieces(model_id: str, text: str) -> tuple[SpeechModel, list[str]]:
    """The TTS model and ``text`` split into the pieces one request each takes (text.py).

    Raises:
        InvalidInputError: not a TTS model, or no text.
    """
    model = get_model(model_id)
    if model.task is not Task.TTS:
        raise InvalidInputError(f"{model.model_id} is not a text-to-speech model")
    pieces = split_text(text, model.max_text_chars or len(text) or 1)
    if not pieces:
        raise InvalidInputError("no text to synthesize")
    return model, pieces


def _asr_model(model_id: str) -> SpeechModel:
    try:
        model = get_model(model_id)
    except KeyError as err:
        raise InvalidInputError(str(err)) from err
    if model.task is not Task.ASR:
        raise InvalidInputError(f"{model.model_id} is not a speech-to-text model")
    return model


def _handshake_error(model_id: str, status: int) -> WorkersAIError:
    """The typed error for a refused WebSocket handshake.

    aiohttp does not expose the refused handshake's body (the v4 envelope), so the error is
    rebuilt from the HTTP status: 401 is always code 10000 (doc §2.1); 404 on a run URL means
    the account does not route (7003), since model IDs come from the catalog.
    """
    message = f"{model_id}: WebSocket handshake refused"
    if status == 401:
        return AuthenticationError(message, status=status, code=10000)
    if status == 404:
        return AccountNotFoundError(message, status=status)
    return error_from_envelope(status, {"errors": [{"message": message}]})


def _raise_for_response(
    status: int, content_type: str, payload: bytes, headers: Mapping[str, str]
) -> None:
    """Raise the typed error for an error answer; return for success (doc §1.3-1.4)."""
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


def _parse_envelope(payload: bytes) -> Mapping[str, Any]:
    try:
        envelope = json.loads(payload)
    except ValueError as err:
        raise ProtocolError("answer is not valid JSON") from err
    if not isinstance(envelope, Mapping) or envelope.get("success") is not True:
        raise ProtocolError("answer is not a successful v4 envelope")
    return envelope


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(result: Mapping[str, Any], model_id: str) -> str:
    text = result.get("text")
    if not isinstance(text, str):
        raise ProtocolError(f"{model_id}: result has no text")
    return text.strip()


def _parse_whisper(model_id: str, result: Mapping[str, Any], language: str | None) -> Transcription:
    """whisper / whisper-tiny-en: ``{text, word_count, words[{word,start,end}], vtt}`` (§4.1)."""
    words = words_from_json(result.get("words"))
    duration = words[-1].end if words else None
    return Transcription(_text(result, model_id), model_id, language, words, duration)


def _parse_whisper_turbo(
    model_id: str, result: Mapping[str, Any], language: str | None
) -> Transcription:
    """whisper-large-v3-turbo: ``transcription_info`` + ``segments[].words`` (§4.3)."""
    info = result.get("transcription_info")
    info = info if isinstance(info, Mapping) else {}
    segments = result.get("segments")
    words: list[Word] = []
    if isinstance(segments, list):
        for segment in segments:
            if isinstance(segment, Mapping):
                words.extend(words_from_json(segment.get("words")))
    detected = info.get("language")
    return Transcription(
        _text(result, model_id),
        model_id,
        detected if isinstance(detected, str) and detected else language,
        tuple(words),
        _float(info.get("duration")),
    )


def _parse_nova3(model_id: str, result: Mapping[str, Any], language: str | None) -> Transcription:
    """nova-3 REST: ``results.channels[0].alternatives[0]`` (Deepgram pre-recorded, §4.4)."""
    try:
        channel = result["results"]["channels"][0]
        alternative = channel["alternatives"][0]
        text = alternative["transcript"]
    except (KeyError, IndexError, TypeError) as err:
        raise ProtocolError(f"{model_id}: no results.channels[0].alternatives[0]") from err
    if not isinstance(text, str):
        raise ProtocolError(f"{model_id}: transcript is not a string")
    detected = channel.get("detected_language") if isinstance(channel, Mapping) else None
    words = words_from_json(alternative.get("words"), key="punctuated_word")
    metadata = result.get("metadata")
    duration = _float(metadata.get("duration")) if isinstance(metadata, Mapping) else None
    return Transcription(
        text.strip(),
        model_id,
        detected if isinstance(detected, str) and detected else language,
        words,
        duration,
    )
