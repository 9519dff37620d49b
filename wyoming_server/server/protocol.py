"""Strict reading of Wyoming events and validation of the request fields this server uses.

``wyoming.event.async_read_event`` returns ``None`` both at EOF and for bad JSON, and raises on
other malformed input (a header that is a list, a non-numeric ``data_length``, a truncated
payload). :func:`read_event` tells these apart so the server can answer a malformed event with an
``error`` event before it closes that one connection. Wire format: the "Format" section of
https://github.com/OHF-Voice/wyoming (README) and ``wyoming/event.py``. The field parsers accept
the events of wyoming 1.7.2 to 1.10.x (``wyoming/asr.py``, ``audio.py``, ``tts.py``) and raise
:class:`BadRequestError` for wrong types instead of crashing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event

from ..workers_ai import audio
from .limits import DEFAULT_LIMITS, EVENT_TIMEOUT, EVENT_TOO_LARGE, IDLE_TIMEOUT, Limits
from .request_errors import MALFORMED_EVENT, UNSUPPORTED_AUDIO_FORMAT, BadRequestError


@dataclass(frozen=True, slots=True)
class PcmFormat:
    """A raw PCM format: ``rate`` in Hz, ``width`` in bytes per sample, ``channels``."""

    rate: int
    width: int
    channels: int


class ConnectionEndingError(BadRequestError):
    """The connection cannot continue (malformed bytes, a limit, a timeout)."""


class MalformedEventError(ConnectionEndingError):
    """The byte stream is not a Wyoming event, or an event is over a size limit."""

    def __init__(self, message: str, code: str = MALFORMED_EVENT) -> None:
        """``message`` says what was wrong with the bytes."""
        super().__init__(f"Malformed Wyoming event: {message}", code)


class ReadTimeoutError(ConnectionEndingError):
    """The client sent nothing for too long, or stalled inside an event."""


def _length(header: Mapping[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedEventError(f"{key} must be a non-negative integer")
    if value > limit:
        raise MalformedEventError(
            f"{key} {value} exceeds the limit of {limit} bytes", EVENT_TOO_LARGE
        )
    return value


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise MalformedEventError(f"{what} is not valid JSON") from err
    if not isinstance(value, dict):
        raise MalformedEventError(f"{what} is not a JSON object")
    return value


async def read_event(
    reader: asyncio.StreamReader, limits: Limits = DEFAULT_LIMITS, *, idle: bool = True
) -> Event | None:
    """Read one event; ``None`` at a clean EOF (nothing read).

    The first byte must come within ``limits.idle_timeout`` seconds (``idle``: no request
    open) and the rest of the event within ``limits.event_timeout`` seconds after it.

    Raises:
        MalformedEventError: bad JSON, wrong header types, a section over its limit, or EOF
            inside an event.
        ReadTimeoutError: no event started in time, or an event stalled.
    """
    try:
        async with asyncio.timeout(limits.idle_timeout):
            first = await reader.read(1)
    except TimeoutError:
        what = "no event" if idle else "no event while a request is open"
        raise ReadTimeoutError(
            f"Closing idle connection: {what} for {limits.idle_timeout:g} s", IDLE_TIMEOUT
        ) from None
    if not first:
        return None
    try:
        async with asyncio.timeout(limits.event_timeout):
            return await _read_rest(reader, first, limits)
    except TimeoutError:
        raise ReadTimeoutError(
            f"Event not completed within {limits.event_timeout:g} s", EVENT_TIMEOUT
        ) from None


async def _read_rest(reader: asyncio.StreamReader, first: bytes, limits: Limits) -> Event:
    line = first
    if first != b"\n":
        try:
            line += await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError as err:  # StreamReader limit overrun
            raise MalformedEventError(
                f"header line longer than {limits.max_header_bytes} bytes", EVENT_TOO_LARGE
            ) from err
        except asyncio.IncompleteReadError as err:
            raise MalformedEventError("connection closed inside an event header") from err
    if len(line) > limits.max_header_bytes:
        raise MalformedEventError(
            f"header line longer than {limits.max_header_bytes} bytes", EVENT_TOO_LARGE
        )
    header = _json_object(line, "header")
    event_type = header.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedEventError("header has no event type")
    data = header.get("data")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        raise MalformedEventError("event data is not a JSON object")
    data_length = _length(header, "data_length", limits.max_data_bytes)
    payload_length = _length(header, "payload_length", limits.max_payload_bytes)
    try:
        if data_length:
            data.update(_json_object(await reader.readexactly(data_length), "event data"))
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError as err:
        raise MalformedEventError("connection closed inside an event") from err
    return Event(type=event_type, data=data, payload=payload)


def optional_str(data: Mapping[str, Any], key: str) -> str | None:
    """``data[key]`` as a non-empty string, or ``None`` when absent, null or empty.

    Raises:
        BadRequestError: the value is not a string.
    """
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequestError(f"'{key}' must be a string")
    return value


def required_str(data: Mapping[str, Any], key: str) -> str:
    """``data[key]`` as a string (may be empty).

    Raises:
        BadRequestError: missing or not a string.
    """
    value = data.get(key)
    if not isinstance(value, str):
        raise BadRequestError(f"'{key}' must be a string")
    return value


def str_list(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """``data[key]`` as a tuple of non-empty strings; absent or null gives ``()``.

    Raises:
        BadRequestError: not a list of strings.
    """
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequestError(f"'{key}' must be a list of strings")
    return tuple(item for item in value if item)


def audio_format(data: Mapping[str, Any]) -> PcmFormat:
    """The ``rate``/``width``/``channels`` of an ``audio-start`` or ``audio-chunk`` event.

    Raises:
        BadRequestError: a field is missing, not an integer, or out of range.
    """
    values: list[int] = []
    for key in ("rate", "width", "channels"):
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadRequestError(
                f"audio '{key}' must be an integer, got {value!r}", UNSUPPORTED_AUDIO_FORMAT
            )
        values.append(value)
    try:
        audio.validate_format(*values)
    except audio.AudioFormatError as err:
        raise BadRequestError(f"Unsupported audio: {err}", UNSUPPORTED_AUDIO_FORMAT) from err
    return PcmFormat(*values)


@dataclass(frozen=True, slots=True)
class VoiceRequest:
    """The ``voice`` object of ``synthesize``/``synthesize-start`` (all parts optional)."""

    name: str | None = None
    speaker: str | None = None
    language: str | None = None


def voice_request(data: Mapping[str, Any]) -> VoiceRequest:
    """Parse the optional ``voice`` of a synthesis event.

    Raises:
        BadRequestError: ``voice`` is not an object or its fields are not strings.
    """
    voice = data.get("voice")
    if voice is None:
        return VoiceRequest()
    if not isinstance(voice, dict):
        raise BadRequestError("'voice' must be an object")
    return VoiceRequest(
        name=optional_str(voice, "name"),
        speaker=optional_str(voice, "speaker"),
        language=optional_str(voice, "language"),
    )


@dataclass(frozen=True, slots=True)
class TranscribeRequest:
    """A ``transcribe`` event: model ``name``, ``language`` and bias terms (wyoming 1.10)."""

    name: str | None = None
    language: str | None = None
    terms: tuple[str, ...] = ()
    vad_sensitivity: str | None = None
    """wyoming 1.10's ``Transcribe.vad_sensitivity``, read from the raw event data (so it works
    with any installed wyoming); a non-string value is kept as its ``repr`` (unknown)."""


def transcribe_request(data: Mapping[str, Any]) -> TranscribeRequest:
    """Parse a ``transcribe`` event; ``transcript_names`` + ``transcript_terms`` become ``terms``.

    Raises:
        BadRequestError: a field has the wrong type.
    """
    return TranscribeRequest(
        name=optional_str(data, "name"),
        language=optional_str(data, "language"),
        terms=str_list(data, "transcript_names") + str_list(data, "transcript_terms"),
        vad_sensitivity=_vad_sensitivity(data.get("vad_sensitivity")),
    )


def _vad_sensitivity(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    return repr(value)
