"""The in-process emulator: an aiohttp server on a loopback port."""

from __future__ import annotations

import ipaddress
import logging
from types import TracebackType

from aiohttp import web

from . import asr, tts
from .app import CONTEXT_KEY, create_app
from .config import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_API_TOKEN,
    DEFAULT_HOST,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_SPEAK_IDLE_TIMEOUT_S,
    DEFAULT_WS_IDLE_TIMEOUT_S,
    EmulatorConfig,
)
from .counters import RequestCounter
from .faults import Faults

_LOGGER = logging.getLogger(__name__)


def check_loopback(host: str) -> None:
    """Raise ``ValueError`` unless ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"The emulator listens on loopback only (127.0.0.1, ::1), not {host!r}")


class Emulator:
    """A local stand-in for Cloudflare Workers AI, served in this process.

    ``base_url`` (after :meth:`start`) is ``http://127.0.0.1:PORT/client/v4``, to be used as a
    client's API base URL with ``account_id`` and ``api_token``. ``port=0`` picks a free port.
    ``faults`` (:class:`~.faults.Faults`) injects latency, failures, throttling and drops.
    ``max_request_bytes`` (bytes) caps request bodies (413/3006 above); ``ws_idle_timeout_s``
    (seconds) closes Deepgram WebSockets without audio (1011 NET-0001); ``speak_idle_timeout_s``
    (seconds, None = never) closes idle aura WebSockets the same way. ``preload`` loads the
    models (Whisper tiny.en, Piper) at start instead of at first use. Raises ``ValueError`` for a
    non-loopback ``host``. Only logs (never prints: the Wyoming server may use stdout).
    """

    def __init__(
        self,
        account_id: str = DEFAULT_ACCOUNT_ID,
        api_token: str = DEFAULT_API_TOKEN,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        ws_idle_timeout_s: float = DEFAULT_WS_IDLE_TIMEOUT_S,
        speak_idle_timeout_s: float | None = DEFAULT_SPEAK_IDLE_TIMEOUT_S,
        preload: bool = False,
    ) -> None:
        check_loopback(host)
        if not account_id or not api_token:
            raise ValueError("account_id and api_token must not be empty")
        self.account_id = account_id
        self.api_token = api_token
        self.host = host
        self.port = port
        self.preload = preload
        self.faults = Faults()
        self.requests = RequestCounter(api_token)
        self.config = EmulatorConfig(
            account_id=account_id,
            api_token=api_token,
            max_request_bytes=max_request_bytes,
            ws_idle_timeout_s=ws_idle_timeout_s,
            speak_idle_timeout_s=speak_idle_timeout_s,
        )
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:8787``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Cloudflare API base URL, e.g. ``http://127.0.0.1:8787/client/v4``."""
        return f"{self.url}/client/v4"

    def run_url(self, model_id: str) -> str:
        """The ``ai/run`` URL of ``model_id`` for this emulator's account (HTTP scheme)."""
        return f"{self.base_url}/accounts/{self.account_id}/ai/run/{model_id}"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._runner is not None

    async def start(self) -> None:
        """Listen on ``host:port`` (resolving ``port=0`` to the chosen port)."""
        if self._runner is not None:
            return
        if self.preload:
            await asr.preload()
            await tts.preload()
        app = create_app(self.config, self.faults)
        app.middlewares.append(self.requests.middleware)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        addresses = runner.addresses
        if addresses:
            self.port = int(addresses[0][1])
        token_note = "default token" if self.api_token == DEFAULT_API_TOKEN else "custom token"
        _LOGGER.info(
            "Workers AI emulator at %s (account %s, %s)",
            self.base_url,
            self.account_id,
            token_note,
        )

    async def stop(self) -> None:
        """Close open WebSockets (1001) and stop listening."""
        runner = self._runner
        if runner is None:
            return
        self._runner = None
        context = runner.app[CONTEXT_KEY]
        await context.close_sessions()
        await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
