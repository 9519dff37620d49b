"""Cloudflare credentials: from the environment or a token file, never the command line.

The API token is secret: it is read from ``CLOUDFLARE_API_TOKEN`` or from a file
(``--api-token-file``, e.g. a Docker secret), kept out of ``repr`` and never logged. The account
ID is not secret: ``--account-id`` or ``CLOUDFLARE_ACCOUNT_ID``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ACCOUNT_ID_ENV = "CLOUDFLARE_ACCOUNT_ID"
API_TOKEN_ENV = "CLOUDFLARE_API_TOKEN"  # noqa: S105 - a variable name, not a secret
GATEWAY_TOKEN_ENV = "CLOUDFLARE_AI_GATEWAY_TOKEN"  # noqa: S105 - a variable name


class CredentialsError(Exception):
    """The credentials given are incomplete or unreadable (the message never holds the token)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """A Cloudflare account ID and API token (the token is excluded from ``repr``)."""

    account_id: str
    api_token: str = field(repr=False)


def load_credentials(
    environ: Mapping[str, str],
    *,
    account_id: str | None = None,
    api_token_file: Path | None = None,
) -> Credentials | None:
    """Collect the credentials; ``None`` when none are configured at all.

    ``account_id`` (from the command line) wins over ``CLOUDFLARE_ACCOUNT_ID``; the token file
    wins over ``CLOUDFLARE_API_TOKEN``.

    Raises:
        CredentialsError: the token file cannot be read or is empty, or only one of account ID
            and token is set.
    """
    account = (account_id or environ.get(ACCOUNT_ID_ENV, "")).strip()
    token = environ.get(API_TOKEN_ENV, "").strip()
    if api_token_file is not None:
        try:
            token = api_token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise CredentialsError(
                f"Cannot read the API token file {api_token_file}: {type(err).__name__}"
            ) from err
        if not token:
            raise CredentialsError(f"The API token file {api_token_file} is empty")
    if not account and not token:
        return None
    if not token:
        raise CredentialsError(
            f"Cloudflare account ID given but no API token: set {API_TOKEN_ENV} or --api-token-file"
        )
    if not account:
        raise CredentialsError(
            f"Cloudflare API token given but no account ID: set {ACCOUNT_ID_ENV} or --account-id"
        )
    return Credentials(account, token)


def load_gateway_token(environ: Mapping[str, str], *, token_file: Path | None = None) -> str | None:
    """The AI Gateway token (sent as ``cf-aig-authorization`` to an authenticated gateway,
    https://developers.cloudflare.com/ai-gateway/configuration/authentication/), or ``None``.

    The file (``--gateway-token-file``) wins over ``CLOUDFLARE_AI_GATEWAY_TOKEN``; the token is
    secret like the API token: never a flag, never logged.

    Raises:
        CredentialsError: the token file cannot be read or is empty.
    """
    token = environ.get(GATEWAY_TOKEN_ENV, "").strip()
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise CredentialsError(
                f"Cannot read the AI Gateway token file {token_file}: {type(err).__name__}"
            ) from err
        if not token:
            raise CredentialsError(f"The AI Gateway token file {token_file} is empty")
    return token or None
