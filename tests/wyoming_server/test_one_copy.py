"""Each fact about Workers AI is written once, in the client (``wyoming_server/workers_ai/``).

The server, the doctor and the component import the client's model IDs, error codes, base URL
and audio rates; a literal copy of one of them elsewhere fails here. The emulator is exempt: it
keeps its own copy on purpose (it follows the public evidence, not the client).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from wyoming_server.workers_ai import catalog, errors, transport

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "wyoming_server"
COMPONENT = ROOT / "custom_components" / "workers_ai_speech"

ERROR_CODES = frozenset(errors._BY_CODE)
RATES = frozenset({catalog.STT_SAMPLE_RATE_HZ, catalog.AURA_WEBSOCKET_SAMPLE_RATE_HZ})
KNOWN_MODEL_IDS = frozenset(catalog.MODELS)


def copies(path: Path) -> list[str]:
    """Literal copies of a client fact in ``path``: ``"line: what"`` for each."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in KNOWN_MODEL_IDS:
                found.append(f"{node.lineno}: model ID {node.value}")
            if node.value.rstrip("/") == transport.DEFAULT_API_BASE_URL:
                found.append(f"{node.lineno}: the API base URL")
        elif isinstance(node, ast.Compare):
            # `code == 4006`, `code in (4006, 3036)`: an error-code table of its own.
            for side in [node.left, *node.comparators]:
                values = side.elts if isinstance(side, ast.Tuple | ast.Set | ast.List) else [side]
                for value in values:
                    if isinstance(value, ast.Constant) and value.value in ERROR_CODES:
                        found.append(f"{node.lineno}: error code {value.value}")
        elif (
            isinstance(node, ast.Assign | ast.AnnAssign)
            and isinstance(node.value, ast.Constant)
            and node.value.value in RATES
        ):
            # `RATE = 24000`: a rate of its own instead of the catalog's.
            found.append(f"{node.lineno}: sample rate {node.value.value}")
    return found


def checked_files() -> list[Path]:
    roots = [PACKAGE / "server", PACKAGE / "doctor"]
    files = [p for root in roots for p in sorted(root.rglob("*.py"))]
    files += [PACKAGE / "__main__.py", PACKAGE / "backend.py", PACKAGE / "credentials.py"]
    if sys.version_info >= (3, 14):  # the component is Python 3.14 code
        files += sorted(COMPONENT.rglob("*.py"))
    return files


def test_no_fact_of_the_client_is_written_twice() -> None:
    found = {
        str(path.relative_to(ROOT)): hits for path in checked_files() if (hits := copies(path))
    }
    assert found == {}


@pytest.mark.parametrize(
    "source",
    [
        'MODEL = "@cf/deepgram/nova-3"\n',
        'BASE = "https://api.cloudflare.com/client/v4"\n',
        "def quota(code):\n    return code in (4006, 3036)\n",
        "RATE_HZ = 24000\n",
    ],
)
def test_a_copy_is_seen(tmp_path: Path, source: str) -> None:
    path = tmp_path / "module.py"
    path.write_text(source)
    assert copies(path)
