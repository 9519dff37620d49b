"""``wyoming-workers-ai-healthcheck``: is the server up? Sends ``describe``, expects ``info``.

Used by the container's ``HEALTHCHECK``, the add-on's watchdog and ``script/install-check``.
Exit status 0 when an ``info`` event with at least one ASR or TTS program came back within
``--timeout`` seconds, 1 otherwise (the reason goes to stderr). ``--wait`` keeps retrying a
refused connection for that many seconds first (a server still starting).

Protocol: https://github.com/OHF-Voice/wyoming#describe (``describe`` → ``info``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence

from wyoming.client import AsyncClient
from wyoming.info import Describe, Info

DEFAULT_URI = "tcp://127.0.0.1:10300"


async def describe(uri: str, timeout: float) -> Info:
    """Send ``describe`` to ``uri`` and return the server's ``info``.

    Args:
        uri: ``tcp://host:port`` or ``unix://path`` of the Wyoming server.
        timeout: seconds for connecting and answering together.

    Raises:
        OSError: the connection failed.
        TimeoutError: no ``info`` within ``timeout``.
        ConnectionResetError: the server closed the connection before answering.
    """
    async with asyncio.timeout(timeout):
        async with AsyncClient.from_uri(uri) as client:
            await client.write_event(Describe().event())
            while True:
                event = await client.read_event()
                if event is None:
                    raise ConnectionResetError("connection closed before info")
                if Info.is_type(event.type):
                    return Info.from_event(event)


async def check(uri: str, timeout: float, wait: float) -> str | None:
    """``None`` when healthy, else why not; retries refused connections for ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        try:
            info = await describe(uri, timeout)
        except TimeoutError:  # before OSError: TimeoutError is one
            return f"no info from {uri} within {timeout} s"
        except (ConnectionRefusedError, FileNotFoundError) as err:  # not (yet) listening
            if time.monotonic() >= deadline:
                return f"cannot connect to {uri}: {err}"
            await asyncio.sleep(0.2)
            continue
        except OSError as err:  # incl. ConnectionError: closed without info
            return f"no info from {uri}: {err}"
        if not any(p.installed for p in info.asr) and not any(p.installed for p in info.tts):
            return f"{uri} answered info without speech-to-text or text-to-speech programs"
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="wyoming-workers-ai-healthcheck",
        description="Exit 0 when the Wyoming server at --uri answers describe with info.",
    )
    parser.add_argument("--uri", default=DEFAULT_URI, help="default %(default)s")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument(
        "--wait", type=float, default=0.0, help="seconds to retry a refused connection (default 0)"
    )
    args = parser.parse_args(argv)
    problem = asyncio.run(check(args.uri, args.timeout, args.wait))
    if problem is not None:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


def run() -> None:
    """``wyoming-workers-ai-healthcheck``."""
    sys.exit(main())


if __name__ == "__main__":
    run()
