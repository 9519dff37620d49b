"""An idle server does not load numpy or PyAV (about 25 MB of a Raspberry Pi's memory).

They are imported by ``wyoming_server.workers_ai.audio`` on first use; the start-up figures
themselves are in ``benchmarks/startup.py``.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "av", "wyoming_server.emulator", "faster_whisper")


def test_starting_the_server_does_not_import_heavy_modules() -> None:
    code = (
        "import sys, wyoming_server.__main__, wyoming_server.server.main\n"
        "import wyoming_server.server.healthcheck\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"


def test_16khz_mono_passthrough_needs_no_resampler() -> None:
    """The usual satellite format (16 kHz mono s16le) converts without loading PyAV."""
    code = (
        "import sys\n"
        "from wyoming_server.workers_ai.audio import PcmConverter\n"
        "c = PcmConverter(16000, 2, 1, 16000)\n"
        "assert c.convert(b'\\x01\\x00' * 160) + c.flush() == b'\\x01\\x00' * 160\n"
        "print('av' in sys.modules, 'numpy' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "False False"
