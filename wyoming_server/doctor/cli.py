"""``wyoming-workers-ai doctor``: check a Cloudflare account against what this project expects.

Reads the same credentials as the server (``CLOUDFLARE_ACCOUNT_ID`` / ``CLOUDFLARE_API_TOKEN``,
``--account-id``, ``--api-token-file``) and ``--api-base-url``; without credentials it checks the
embedded emulator instead (and says so). Prints the expected cost, one table row per model and
transport, and every deviation; writes the JSON report with ``--report``. Exit code 0 when every
documented check answered as expected, 1 on a deviation or error, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

from .. import __version__
from ..backend import BackendError, embedded_emulator
from ..credentials import Credentials, CredentialsError, load_credentials, load_gateway_token
from ..workers_ai import DEFAULT_API_BASE_URL
from . import fallbacks
from .checks import cost_summary, plan, plan_cost, run_doctor
from .report import Check, Outcome, Report

_COLUMNS = ("MODEL", "TRANSPORT", "RESULT", "CONNECT", "FIRST", "TOTAL", "NEURONS")
_RESULT_WIDTH = 44


def build_parser() -> argparse.ArgumentParser:
    """The ``doctor`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="wyoming-workers-ai doctor",
        description="Call every Workers AI speech model over every transport this project uses, "
        "once (1.5 s of speech or a few words), and report results, latency, neurons spent and "
        "every deviation from what the project expects. Credentials: CLOUDFLARE_ACCOUNT_ID and "
        "CLOUDFLARE_API_TOKEN (or --api-token-file); without them the embedded emulator is "
        "checked.",
    )
    parser.add_argument(
        "--models",
        metavar="LIST",
        default="",
        help="Comma-separated models to check (short names, e.g. nova-3,aura-2-en; default all)",
    )
    parser.add_argument(
        "--undocumented",
        action="store_true",
        help="Also try the WebSocket endpoints Cloudflare lists without documentation",
    )
    parser.add_argument("--report", type=Path, metavar="PATH", help="Write the JSON report here")
    parser.add_argument(
        "--api-base-url",
        default=DEFAULT_API_BASE_URL,
        help="Cloudflare v4 API root, or an AI Gateway .../workers-ai URL (default %(default)s)",
    )
    parser.add_argument("--account-id", help="Cloudflare account ID ($CLOUDFLARE_ACCOUNT_ID)")
    parser.add_argument(
        "--api-token-file",
        type=Path,
        metavar="PATH",
        help="File holding the API token (default: $CLOUDFLARE_API_TOKEN)",
    )
    parser.add_argument(
        "--gateway-token-file",
        type=Path,
        metavar="PATH",
        help="File holding the AI Gateway token for an authenticated gateway "
        "(default: $CLOUDFLARE_AI_GATEWAY_TOKEN)",
    )
    parser.add_argument("--debug", action="store_true", help="Log DEBUG messages")
    fallbacks.add_arguments(parser)
    return parser


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _row(check: Check) -> tuple[str, ...]:
    result = check.result if check.outcome is not Outcome.DEVIATION else f"! {check.result}"
    if len(result) > _RESULT_WIDTH:
        result = result[: _RESULT_WIDTH - 1] + "…"
    neurons = "-" if check.neurons is None else f"{check.neurons:.3g}"
    name = check.model_id.removeprefix("@cf/")
    return (
        name,
        check.transport.value,
        result,
        _ms(check.connect_ms),
        _ms(check.first_result_ms),
        _ms(check.total_ms),
        neurons,
    )


_WIDTHS = (30, 9, _RESULT_WIDTH, 8, 8, 8, 8)


def print_row(check: Check, out: TextIO) -> None:
    """One table row, then the check's deviations (``!``) and known quirks (``~``)."""
    cells = _row(check)
    out.write("  ".join(c.ljust(w) for c, w in zip(cells, _WIDTHS, strict=True)).rstrip() + "\n")
    for text in check.deviations:
        out.write(f"    ! {text}\n")
    for text in check.known:
        out.write(f"    ~ {text}\n")
    for text in check.notes:
        out.write(f"    · {text}\n")
    out.flush()


def print_summary(report: Report, out: TextIO) -> None:
    """The closing lines: neurons spent and the verdict."""
    neurons = report.neurons
    spent = "not reported" if neurons is None else f"{neurons:g}"
    out.write(f"\nNeurons spent (cf-ai-neurons): {spent}; expected {report.expected_neurons:.1f}\n")
    failed = report.failed
    if not failed:
        out.write("OK: every model answered as this project expects.\n")
        return
    out.write(f"{len(failed)} check(s) differ from what this project expects:\n")
    for check in failed:
        reasons = "; ".join(check.deviations) or check.result
        out.write(f"  - {check.name}: {reasons}\n")


@asynccontextmanager
async def _target(
    credentials: Credentials | None, api_base_url: str
) -> AsyncIterator[tuple[Credentials, str, bool]]:
    if credentials is not None:
        yield credentials, api_base_url, False
        return
    async with embedded_emulator() as (url, creds):
        yield creds, url, True


async def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run ``doctor``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format=logging.BASIC_FORMAT,
        stream=sys.stderr,
    )
    models = [m for m in args.models.split(",") if m.strip()]
    try:
        targets = plan(models, undocumented=args.undocumented)
        credentials = load_credentials(
            os.environ, account_id=args.account_id, api_token_file=args.api_token_file
        )
        gateway_token = load_gateway_token(os.environ, token_file=args.gateway_token_file)
    except KeyError as err:
        parser.error(f"--models: {err.args[0]}")
    except CredentialsError as err:
        out.write(f"{err}\n")
        return 2
    if credentials is None:
        out.write(
            "No Cloudflare credentials (CLOUDFLARE_ACCOUNT_ID / CLOUDFLARE_API_TOKEN): checking "
            "the embedded Workers AI EMULATOR, not Cloudflare.\n"
        )
    out.write(f"{len(targets)} call(s). {cost_summary(plan_cost(targets))}\n\n")
    out.write("  ".join(c.ljust(w) for c, w in zip(_COLUMNS, _WIDTHS, strict=True)).rstrip())
    out.write("\n")
    try:
        async with _target(credentials, args.api_base_url) as (creds, base_url, emulator):
            report = await run_doctor(
                creds.account_id,
                creds.api_token,
                api_base_url=base_url,
                models=models,
                undocumented=args.undocumented,
                emulator=emulator,
                version=__version__,
                on_check=lambda check: print_row(check, out),
                gateway_token=gateway_token if credentials is not None else None,
            )
    except BackendError as err:
        out.write(f"{err}\n")
        return 2
    print_summary(report, out)
    failover = await fallbacks.failover_report(args, out)
    if args.report is not None:
        document = report.as_dict()
        if failover is not None:
            document["failover"] = failover
        args.report.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        out.write(f"Report written to {args.report}\n")
    return 0 if report.ok else 1


def run(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``wyoming-workers-ai doctor ...`` (``argv`` without ``doctor``)."""
    return asyncio.run(main(argv))
