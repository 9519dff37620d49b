"""Model input fields given as URL query parameters (nova-3 REST, every WebSocket model).

Query values are strings (the models' input schemas on
https://developers.cloudflare.com/workers-ai/models/nova-3/ and .../flux/ type them so): they are
converted to the schema's type (``true``/``false`` → boolean, decimal → number) before strict schema
validation, so a wrong value or an unknown parameter is rejected with 400/5006 like any bad input.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from multidict import MultiMapping

from .errors import bad_input

GENERIC_PARAMS = frozenset({"queueRequest", "tags"})
"""Query parameters every ``ai/run`` POST accepts, not model inputs
(https://developers.cloudflare.com/api/resources/ai/methods/run/)."""


def query_instance(
    query: MultiMapping[str],
    schema: dict[str, Any],
    *,
    repeatable: Collection[str] = ("keyterm",),
    skip: Collection[str] = (),
) -> dict[str, Any]:
    """Convert query parameters into a schema instance (first value of repeatable keys).

    ``skip`` names parameters handled by the caller (not in the instance). Raises
    :class:`~.errors.CloudflareError` 400/5006 when a non-repeatable key is given twice.
    """
    properties: dict[str, Any] = schema.get("properties", {})
    instance: dict[str, Any] = {}
    for key in dict.fromkeys(query.keys()):
        if key in skip:
            continue
        values = query.getall(key)
        if len(values) > 1 and key not in repeatable:
            raise bad_input(f"Error: query parameter '{key}' given {len(values)} times")
        prop_type = properties.get(key, {}).get("type")
        instance[key] = coerce(values[0], prop_type)
    return instance


def coerce(value: str, json_type: str | None) -> Any:
    """A query string as the JSON type ``json_type`` when it reads as one, else unchanged."""
    if json_type == "boolean":
        lowered = value.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    elif json_type in ("number", "integer"):
        try:
            number = float(value)
        except ValueError:
            return value
        if not math.isfinite(number):
            return value
        if json_type == "integer":
            return int(number) if number.is_integer() else value
        return int(number) if number.is_integer() else number
    return value


def flag(query: MultiMapping[str], key: str, default: bool = False) -> bool:
    """A boolean query parameter (already validated)."""
    value = query.get(key)
    return default if value is None else value.lower() == "true"


def milliseconds(value: str | None, default: int | None) -> int | None:
    """A millisecond query value: digits → int, ``false`` → None, absent → ``default``."""
    if value is None:
        return default
    if value.lower() == "false":
        return None
    if value.isdigit():
        return int(value)
    raise bad_input(f"Error: expected milliseconds or false, got '{value}'")
