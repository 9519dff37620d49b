"""A :class:`WorkersAIClient` on an emulator, for the client tests."""

from __future__ import annotations

import aiohttp

from wyoming_server.emulator import Emulator
from wyoming_server.workers_ai import WorkersAIClient


def emulator_client(
    session: aiohttp.ClientSession, emulator: Emulator, timeout: float = 20.0
) -> WorkersAIClient:
    """A client of ``emulator`` whose request timeout and deadline are ``timeout`` seconds: the
    emulator's models on a busy machine, not a voice path."""
    return WorkersAIClient(
        session,
        emulator.account_id,
        emulator.api_token,
        api_base_url=emulator.base_url,
        deadline=timeout,
        request_timeout=timeout,
    )
