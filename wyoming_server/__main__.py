"""``python -m wyoming_server`` / ``wyoming-workers-ai``: the command.

``wyoming-workers-ai [flags]`` serves Wyoming (:mod:`wyoming_server.server.main`);
``wyoming-workers-ai doctor [flags]`` checks the Cloudflare account
(:mod:`wyoming_server.doctor.cli`). Each imports only what its subcommand needs.
"""

from __future__ import annotations

import sys


def run() -> None:
    """Console-script entry point: dispatch to the server or to ``doctor``."""
    if sys.argv[1:2] == ["doctor"]:
        from .doctor.cli import run as run_doctor  # noqa: PLC0415 - only for the subcommand

        sys.exit(run_doctor(sys.argv[2:]))
    import asyncio  # noqa: PLC0415

    from .server.main import main  # noqa: PLC0415 - not loaded for `doctor`

    sys.exit(asyncio.run(main()))


if __name__ == "__main__":
    run()
