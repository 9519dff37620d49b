"""Text-to-speech requests: REST synthesis, and aura sessions over the WebSocket.

- aura-1, aura-2-en, aura-2-es REST: JSON ``{text, speaker, encoding?, container?,
  sample_rate?}``; the answer body is the audio itself
  (https://developers.cloudflare.com/workers-ai/models/aura-2-en/). Workers AI may ignore
  ``encoding=linear16`` and answer MP3, so the container is read from the bytes.
- melotts REST: JSON ``{prompt, lang}``; an envelope with base64 audio, WAV although the
  schema says MP3 (https://developers.cloudflare.com/workers-ai/models/melotts/).
- aura WebSocket: Deepgram's speak v1 (https://developers.deepgram.com/docs/tts-websocket);
  see :mod:`.speak`.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from . import audio
from .catalog import AURA_WEBSOCKET_SAMPLE_RATE_HZ, InputConvention, SpeechModel, Task, get_model
from .errors import InvalidInputError, ProtocolError
from .language_tags import base_language
from .results import SynthesizedAudio
from .speak import SpeakSession, connect_speak
from .text import split_text
from .transport import WorkersAITransport, parse_envelope
from .usage import Transport


class TextToSpeech(WorkersAITransport):
    """The text-to-speech calls of :class:`~.client.WorkersAIClient`."""

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
            lang = base_language(language or "") or model.languages[0]
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
            envelope_result = parse_envelope(payload).get("result")
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
        sample_rate: int = AURA_WEBSOCKET_SAMPLE_RATE_HZ,
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
        sample_rate: int = AURA_WEBSOCKET_SAMPLE_RATE_HZ,
    ) -> AsyncIterator[SpeakSession]:
        """Open an aura WebSocket session (Deepgram speak v1): linear16 PCM out.

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
                    neurons=session.neurons or None,  # see SpeechToText.listen
                    characters=session.characters_sent,
                )


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
