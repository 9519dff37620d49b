"""Cloudflare Workers AI speech for Home Assistant voice assistants.

The tree is the architecture (docs/architecture.md):

- :mod:`wyoming_server.workers_ai`: the Workers AI client (REST, WebSocket sessions, catalog,
  audio, errors, usage); imports neither ``wyoming`` nor ``homeassistant``. Used by the server,
  the doctor and the Home Assistant component.
- :mod:`wyoming_server.server`: the Wyoming server.
- :mod:`wyoming_server.doctor`: ``wyoming-workers-ai doctor``, the account check.
- :mod:`wyoming_server.emulator`: a local stand-in for Cloudflare (tests, no credentials).
- ``credentials`` and ``backend``: where Workers AI is (Cloudflare credentials, or the embedded
  emulator), shared by the server and the doctor; ``__main__``: the command.
"""

__version__ = "0.1.0"
"""The distribution's version: the one place it is set (pyproject reads it; the Home Assistant
component's manifest pins ``wyoming-workers-ai==<this>``)."""

__all__ = ["__version__"]
