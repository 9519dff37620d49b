"""Speech-to-text requests: REST uploads, and streaming sessions over the WebSocket.

Request and answer shapes, per model:

- whisper, whisper-tiny-en: the audio file as the body; ``{text, word_count, words, vtt}``
  (https://developers.cloudflare.com/workers-ai/models/whisper/,
  https://developers.cloudflare.com/workers-ai/models/whisper-tiny-en/).
- whisper-large-v3-turbo: JSON ``{audio: base64, language?, initial_prompt?, vad_filter?}``;
  ``{text, transcription_info, segments[].words}``
  (https://developers.cloudflare.com/workers-ai/models/whisper-large-v3-turbo/).
- nova-3 REST: the audio file as the body, options in the query; Deepgram's pre-recorded
  answer ``results.channels[0].alternatives[0]``
  (https://developers.cloudflare.com/workers-ai/models/nova-3/,
  https://developers.deepgram.com/reference/speech-to-text/listen-pre-recorded).
- nova-3 WebSocket (Deepgram listen v1,
  https://developers.deepgram.com/reference/speech-to-text/listen-streaming) and flux
  (listen v2, https://developers.cloudflare.com/workers-ai/models/flux/,
  https://developers.deepgram.com/docs/flux/): linear16 PCM frames; see :mod:`.listen`.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from . import audio
from .catalog import FLUX, InputConvention, SpeechModel, Task, get_model
from .errors import InvalidInputError, ProtocolError
from .language_tags import base_language, nova3_language
from .listen import ListenSession, connect_listen
from .results import Transcription, Word, as_float, words_from_json
from .transport import WorkersAITransport
from .usage import Transport


def _query_value(value: str | bool | int | float) -> str:
    """Query values are strings; booleans as ``true``/``false`` (Deepgram's query form)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class SpeechToText(WorkersAITransport):
    """The speech-to-text calls of :class:`~.client.WorkersAIClient`."""

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
            content_type: its MIME type (sent to nova-3 as ``Content-Type``).
            language: BCP-47 hint. turbo gets the ISO 639-1 part; nova-3 a tag from its list or
                automatic detection; whisper and whisper-tiny-en take none.
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
            if whisper_language := base_language(language or ""):
                body["language"] = whisper_language
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
        ``interim_results``, ``keyterms``, ``endpointing_ms``. flux options:
        ``eot_threshold`` (0.5-0.9), ``eager_eot_threshold`` (0.3-0.9), ``eot_timeout_ms``,
        ``keyterms``.

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
            if lang:  # keyterms are rejected with multilingual routing (nova-3 page)
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


def _asr_model(model_id: str) -> SpeechModel:
    try:
        model = get_model(model_id)
    except KeyError as err:
        raise InvalidInputError(str(err)) from err
    if model.task is not Task.ASR:
        raise InvalidInputError(f"{model.model_id} is not a speech-to-text model")
    return model


def _text(result: Mapping[str, Any], model_id: str) -> str:
    text = result.get("text")
    if not isinstance(text, str):
        raise ProtocolError(f"{model_id}: result has no text")
    return text.strip()


def _parse_whisper(model_id: str, result: Mapping[str, Any], language: str | None) -> Transcription:
    """whisper / whisper-tiny-en: ``{text, word_count, words[{word,start,end}], vtt}``."""
    words = words_from_json(result.get("words"))
    duration = words[-1].end if words else None
    return Transcription(_text(result, model_id), model_id, language, words, duration)


def _parse_whisper_turbo(
    model_id: str, result: Mapping[str, Any], language: str | None
) -> Transcription:
    """whisper-large-v3-turbo: ``transcription_info`` + ``segments[].words``."""
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
        as_float(info.get("duration")),
    )


def _parse_nova3(model_id: str, result: Mapping[str, Any], language: str | None) -> Transcription:
    """nova-3 REST: ``results.channels[0].alternatives[0]`` (Deepgram pre-recorded)."""
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
    duration = as_float(metadata.get("duration")) if isinstance(metadata, Mapping) else None
    return Transcription(
        text.strip(),
        model_id,
        detected if isinstance(detected, str) and detected else language,
        words,
        duration,
    )
