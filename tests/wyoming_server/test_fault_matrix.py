"""The fault matrix harness (benchmarks/fault_matrix.py) on two of its faults.

Recovering faults must be invisible to the user; failing ones must end in an ``error`` plus the
terminal event, and the next request must work. The full matrix is a benchmark
(``python -m benchmarks.fault_matrix``), not part of the test run.
"""

from __future__ import annotations

from benchmarks.fault_matrix import FAULTS, run


async def test_capacity_once_recovers_and_a_dropped_websocket_is_reported() -> None:
    chosen = [
        f for f in FAULTS if f.name in ("3040 once, then success", "WebSocket dropped mid-stream")
    ]
    cells = await run(chosen, [])
    assert len(cells) == 6
    for cell in cells:
        assert cell.terminal, cell
        assert cell.next_request_ok, cell
        if cell.fault.startswith("3040"):
            assert cell.verdict == "ok", cell
            assert cell.error_code is None
            assert cell.backend_requests is not None and cell.backend_requests >= 2  # retried
        else:
            assert cell.error_code == "stream-closed", cell
            assert cell.events[0] == "error"
