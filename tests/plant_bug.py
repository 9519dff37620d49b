"""Plant one bug, run the tests that should catch it, and put the code back.

Usage (from the repository root)::

    python -m tests.plant_bug FILE OLD NEW [-- PYTEST ARGS...]

``OLD`` must occur exactly once in ``FILE``; it is replaced by ``NEW``, pytest runs with the
given arguments (default: the whole ``tests`` folder), the failing tests are listed, and the
file is restored whatever happens. Exit status 0 means at least one test failed (the bug was
caught), 1 that every test passed (a blind spot), 2 a usage error. See docs/testing.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """Plant, test, restore; see the module docstring."""
    if "--" in argv:
        cut = argv.index("--")
        own, pytest_args = argv[:cut], argv[cut + 1 :]
    else:
        own, pytest_args = argv, ["tests"]
    if len(own) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, old, new = Path(own[0]), own[1], own[2]
    source = path.read_text()
    if source.count(old) != 1:
        print(f"{old!r} occurs {source.count(old)} times in {path}", file=sys.stderr)
        return 2
    line = source[: source.index(old)].count("\n") + 1
    print(f"planted {path}:{line}: {old!r} -> {new!r}", flush=True)
    path.write_text(source.replace(old, new))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", *pytest_args, "-q", "-rf", "-p", "no:cacheprovider"],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        path.write_text(source)
        print(f"restored {path}")
    failed = [line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    print("\n".join(failed) or "no test failed: a blind spot")
    return 0 if failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
