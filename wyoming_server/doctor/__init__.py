"""``wyoming-workers-ai doctor``: call every model once on a real account and report deviations.

Probes each model over each transport the project uses (REST, WebSocket), measures connect,
first result and total time and the neurons Cloudflare bills, and compares what comes back
with what the client expects; the report is JSON for bug reports and the component's
``workers_ai_speech.run_check`` action.

May import: :mod:`wyoming_server.workers_ai`, the top-level ``credentials`` and ``backend``
modules (the CLI's embedded emulator) and ``wyoming`` (to ``describe`` the configured fallback
Wyoming servers). Never the Wyoming server, the emulator or ``homeassistant``.
"""
