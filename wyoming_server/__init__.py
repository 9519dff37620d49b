"""Wyoming server for Cloudflare Workers AI speech models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wyoming-workers-ai")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
