"""The Wyoming server: one connection per Home Assistant or satellite, speech in, speech out.

Reads Wyoming events (``describe``, ``transcribe``/``audio-chunk``/``audio-stop``,
``synthesize``/``synthesize-start``/``-chunk``/``-stop``), turns them into Workers AI requests
through :mod:`wyoming_server.workers_ai`, and answers with ``info``, ``transcript``, ``audio-*``
and ``error`` events (protocol: https://github.com/OHF-Voice/wyoming). Also the command line,
settings, limits, metrics, zeroconf discovery and the container health check.

May import: :mod:`wyoming_server.workers_ai`, the top-level ``credentials`` and ``backend``
modules, and ``wyoming``. Never ``homeassistant``, :mod:`wyoming_server.doctor` (only the
command dispatch in ``wyoming_server.__main__`` does) or :mod:`wyoming_server.emulator`
(``backend`` starts it, lazily, when no credentials are set).
"""
