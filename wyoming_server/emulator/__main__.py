"""Standalone emulator: ``python -m wyoming_server.emulator [--host] [--port] ...``.

Prints the base URL, account ID and API token on stdout once serving, optionally writes them
to ``--info-file`` (JSON, written atomically) and runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from . import load_mode
from .config import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_API_TOKEN,
    DEFAULT_HOST,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_PORT,
    DEFAULT_SPEAK_IDLE_TIMEOUT_S,
    DEFAULT_WS_IDLE_TIMEOUT_S,
)
from .server import Emulator, check_loopback


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line (raises ``SystemExit`` on errors, like argparse)."""
    parser = argparse.ArgumentParser(
        prog="python -m wyoming_server.emulator",
        description="Local Cloudflare Workers AI emulator (speech models) on loopback.",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="loopback address (default %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="TCP port, 0 = any free port (default %(default)s)",
    )
    parser.add_argument(
        "--account-id",
        default=DEFAULT_ACCOUNT_ID,
        help="account ID to accept (default %(default)s)",
    )
    parser.add_argument(
        "--api-token",
        default=DEFAULT_API_TOKEN,
        help="API token to accept (default: the documented emulator token)",
    )
    parser.add_argument(
        "--info-file",
        type=Path,
        help="write {base_url, account_id, api_token, ...} as JSON here when up",
    )
    parser.add_argument(
        "--max-request-bytes",
        type=int,
        default=DEFAULT_MAX_REQUEST_BYTES,
        help="largest request body in bytes (default %(default)s)",
    )
    parser.add_argument(
        "--ws-idle-timeout",
        type=float,
        default=DEFAULT_WS_IDLE_TIMEOUT_S,
        help="seconds without audio before a Deepgram WebSocket closes (default %(default)s)",
    )
    parser.add_argument(
        "--speak-idle-timeout",
        type=float,
        default=DEFAULT_SPEAK_IDLE_TIMEOUT_S,
        help="seconds without a message before an aura WebSocket closes "
        "(default: never, as Deepgram documents none)",
    )
    parser.add_argument(
        "--rtt-ms",
        type=float,
        default=0.0,
        help="network round-trip time to emulate in ms, e.g. 60 (the rtt_ms fault; default 0)",
    )
    parser.add_argument("--preload", action="store_true", help="load the models before serving")
    parser.add_argument(
        "--load-mode",
        action="store_true",
        help="answer without the models (canned transcript, synthetic audio) for load tests; "
        "the model_latency_ms fault sets the answer time",
    )
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="stop when standard input closes (used by EmulatorProcess so the "
        "emulator never outlives its parent)",
    )
    args = parser.parse_args(argv)
    try:
        check_loopback(args.host)
    except ValueError as err:
        parser.error(str(err))
    return args


async def serve(args: argparse.Namespace) -> None:
    """Run the emulator until SIGINT/SIGTERM."""
    if args.load_mode:
        load_mode.enable()
    emulator = Emulator(
        account_id=args.account_id,
        api_token=args.api_token,
        host=args.host,
        port=args.port,
        max_request_bytes=args.max_request_bytes,
        ws_idle_timeout_s=args.ws_idle_timeout,
        speak_idle_timeout_s=args.speak_idle_timeout,
        preload=args.preload and not args.load_mode,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if args.exit_on_stdin_eof:
        threading.Thread(
            target=_wait_for_eof, args=(loop, stop), name="stdin-eof", daemon=True
        ).start()
    emulator.faults.rtt_ms = max(0.0, args.rtt_ms)
    async with emulator:
        info = {
            "base_url": emulator.base_url,
            "url": emulator.url,
            "host": emulator.host,
            "port": emulator.port,
            "account_id": emulator.account_id,
            "api_token": emulator.api_token,
            "pid": os.getpid(),
        }
        if args.info_file is not None:
            tmp = args.info_file.with_name(args.info_file.name + ".tmp")
            tmp.write_text(json.dumps(info))
            tmp.replace(args.info_file)
        # The standalone CLI tells its user where it is and how to authenticate.
        print(f"Workers AI emulator: {emulator.base_url}", flush=True)
        print(f"  account ID: {emulator.account_id}", flush=True)
        print(f"  API token:  {emulator.api_token}", flush=True)
        await stop.wait()


def _wait_for_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Block until standard input closes (the parent went away), then stop the emulator."""
    with contextlib.suppress(OSError, ValueError):
        while sys.stdin.buffer.read(4096):
            pass
    with contextlib.suppress(RuntimeError):  # the loop already closed
        loop.call_soon_threadsafe(stop.set)


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
