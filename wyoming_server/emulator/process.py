"""The emulator in a subprocess, driven over its HTTP control API.

Runs ``python -m wyoming_server.emulator --host H --port P --info-file F`` with
``sys.executable``, waits for the info file (JSON ``{"base_url", "account_id", "api_token",
...}``) and sets faults with ``POST/DELETE /__emulator__/faults``. Every method opens its own
short-lived HTTP session and the child is a plain :class:`subprocess.Popen`, so an instance can be
used from any event loop (e.g. a session-scoped pytest fixture).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import aiohttp

from .config import CONTROL_PREFIX, DEFAULT_ACCOUNT_ID, DEFAULT_API_TOKEN, DEFAULT_HOST
from .server import check_loopback


class EmulatorProcess:
    """An emulator running as a child process (same attributes as :class:`~.server.Emulator`).

    ``startup_timeout`` in seconds; ``ws_idle_timeout_s`` in seconds (None = the CLI default);
    ``speak_idle_timeout_s`` in seconds (None = no idle timeout for aura WebSockets);
    ``preload`` loads the models before the info file is written; ``load_mode`` answers without
    them (see :mod:`.load_mode`). The child exits when this
    process goes away (its stdin pipe closes), so it never outlives the parent. The child's
    stderr goes to ``log_path`` (shown in the error if it fails to start). Raises
    ``ValueError`` for a non-loopback host; :meth:`start` raises ``RuntimeError`` if the child
    exits or times out.
    """

    def __init__(
        self,
        account_id: str = DEFAULT_ACCOUNT_ID,
        api_token: str = DEFAULT_API_TOKEN,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        startup_timeout: float = 60.0,
        ws_idle_timeout_s: float | None = None,
        speak_idle_timeout_s: float | None = None,
        preload: bool = False,
        debug: bool = False,
        load_mode: bool = False,
        python: str = sys.executable,
    ) -> None:
        check_loopback(host)
        self.account_id = account_id
        self.api_token = api_token
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self.ws_idle_timeout_s = ws_idle_timeout_s
        self.speak_idle_timeout_s = speak_idle_timeout_s
        self.preload = preload
        self.debug = debug
        self.load_mode = load_mode
        self.python = python
        self.base_url = ""
        self.url = ""
        self.log_path: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def pid(self) -> int | None:
        """The child's process ID while it runs."""
        return self._process.pid if self._process is not None else None

    def run_url(self, model_id: str) -> str:
        """The ``ai/run`` URL of ``model_id`` for this emulator's account (HTTP scheme)."""
        return f"{self.base_url}/accounts/{self.account_id}/ai/run/{model_id}"

    async def start(self) -> None:
        """Start the child and wait until it serves (its info file appears)."""
        if self._process is not None:
            return
        self._tmpdir = tempfile.TemporaryDirectory(prefix="workers-ai-emulator-")
        info_file = Path(self._tmpdir.name) / "info.json"
        self.log_path = Path(self._tmpdir.name) / "emulator.log"
        args = [
            self.python, "-m", "wyoming_server.emulator",
            "--host", self.host, "--port", str(self.port),
            "--account-id", self.account_id, "--api-token", self.api_token,
            "--info-file", str(info_file), "--exit-on-stdin-eof",
        ]  # fmt: skip
        if self.ws_idle_timeout_s is not None:
            args += ["--ws-idle-timeout", str(self.ws_idle_timeout_s)]
        if self.speak_idle_timeout_s is not None:
            args += ["--speak-idle-timeout", str(self.speak_idle_timeout_s)]
        if self.preload:
            args.append("--preload")
        if self.debug:
            args.append("--debug")
        if self.load_mode:
            args.append("--load-mode")
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: ASYNC220, S603 - our own module, returns at once
                args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log
            )
        deadline = time.monotonic() + self.startup_timeout
        while not info_file.exists():
            if self._process.poll() is not None:
                log_text = self._log_tail()
                await self._cleanup()
                raise RuntimeError(f"Emulator exited at start-up:\n{log_text}")
            if time.monotonic() > deadline:
                log_text = self._log_tail()
                await self.stop()
                raise RuntimeError(
                    f"Emulator did not start within {self.startup_timeout} s:\n{log_text}"
                )
            await asyncio.sleep(0.05)
        info = json.loads(info_file.read_text())
        self.base_url = info["base_url"]
        self.url = info["url"]
        self.port = int(info["port"])

    def _log_tail(self, limit: int = 4000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-limit:]

    async def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Set faults over the control API; returns the resulting settings.

        Keys: ``fail_next`` (+ ``status``, ``code``, ``message``, ``retry_after``),
        ``latency_ms``, ``model_latency_ms``, ``upload_bytes_per_second``,
        ``ws_drop_after_messages``, ``aura_rest_ignores_encoding`` (see
        :class:`~.faults.Faults`). Raises ``RuntimeError`` if the emulator refuses them.
        """
        return await self._control("POST", settings)

    async def reset_faults(self) -> dict[str, Any]:
        """Turn every fault off."""
        return await self._control("DELETE", None)

    async def get_faults(self) -> dict[str, Any]:
        """The current fault settings."""
        return await self._control("GET", None)

    async def network_stats(self) -> dict[str, Any]:
        """Connections, requests, REST calls and WebSocket handshakes on new/reused
        connections, open WebSockets per model
        (``GET /__emulator__/network``, see :class:`~.network.NetworkStats`)."""
        return await self._control("GET", None, "network")

    async def request_counts(self, *, reset: bool = False) -> dict[str, dict[str, int]]:
        """Model calls received so far, ``{"rest": {model: n}, "websocket": {model: n}}``;
        ``reset`` zeroes the counts (after reading them)."""
        return await self._control("DELETE" if reset else "GET", None, "requests")

    async def handshakes(self, *, reset: bool = False) -> list[dict[str, Any]]:
        """The WebSocket handshakes received so far (oldest first), each
        ``{"model": model_id, "query": {key: [values]}}``; ``reset`` forgets them."""
        result = await self._control("DELETE" if reset else "GET", None, "handshakes")
        return cast("list[dict[str, Any]]", result)

    async def _control(
        self, method: str, payload: dict[str, Any] | None, path: str = "faults"
    ) -> dict[str, Any]:
        if not self.url:
            raise RuntimeError("EmulatorProcess is not started")
        headers = {"Authorization": f"Bearer {self.api_token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, f"{self.url}{CONTROL_PREFIX}/{path}", json=payload, headers=headers
            ) as response,
        ):
            body = await response.json()
            if response.status != 200:
                raise RuntimeError(f"Emulator refused faults: {body.get('errors')}")
            result: dict[str, Any] = body["result"]
            return result

    async def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after 10 s) and remove its files."""
        process = self._process
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, 10)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        await self._cleanup()

    async def _cleanup(self) -> None:
        self._process = None
        if self._tmpdir is not None:
            with contextlib.suppress(OSError):
                self._tmpdir.cleanup()
            self._tmpdir = None
        self.log_path = None

    async def __aenter__(self) -> EmulatorProcess:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
