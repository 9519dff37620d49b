"""Wyoming server for Cloudflare Workers AI speech models."""

__version__ = "0.1.0"
"""The distribution's version: the one place it is set (pyproject reads it; the Home Assistant
component's manifest pins ``wyoming-workers-ai==<this>``)."""

__all__ = ["__version__"]
