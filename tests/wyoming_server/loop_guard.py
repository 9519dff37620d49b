"""Record where the CPU-heavy audio work runs: on an event loop's thread, or off it.

:func:`install` wraps the functions of :mod:`wyoming_server.workers_ai.audio` that encode,
decode or resample (FLAC encoding, decoding a container, resampling); each call is recorded
with its input size and whether an event loop was running in the calling thread. A worker
thread (``asyncio.to_thread``, an executor) has none.

:func:`sitecustomize_dir` makes a folder whose ``sitecustomize.py`` installs the recorder in a
child process (put it first on ``PYTHONPATH``); the child appends its records to a JSON-lines
file.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wyoming_server.workers_ai import audio

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Call:
    """One call of a CPU-heavy audio function."""

    function: str
    input_bytes: int
    on_event_loop: bool


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def install(record: Callable[[Call], None]) -> Callable[[], None]:
    """Wrap the audio functions so that each call goes to ``record``; returns the undo."""
    originals: list[tuple[object, str, Any]] = []

    def wrap(owner: object, name: str, size: Callable[..., int]) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nbytes = size(*args, **kwargs)
            if nbytes >= 0:
                record(Call(name, nbytes, _on_event_loop()))
            return original(*args, **kwargs)

        originals.append((owner, name, original))
        setattr(owner, name, wrapper)

    wrap(audio, "encode_flac", lambda pcm, *_, **__: len(pcm))
    wrap(audio, "decode_audio", lambda data, *_, **__: len(data))
    wrap(audio, "convert_pcm", lambda pcm, *_, **__: len(pcm))
    # A converter that passes 16 kHz mono s16le through does no work: not recorded (-1).
    wrap(
        audio.PcmConverter,
        "convert",
        lambda self, chunk: len(chunk) if self._resampler is not None else -1,
    )

    def undo() -> None:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)

    return undo


def read_calls(path: Path) -> list[Call]:
    """The records a child process appended to ``path``."""
    if not path.exists():
        return []
    return [Call(**json.loads(line)) for line in path.read_text().splitlines() if line]


def sitecustomize_dir(folder: Path, records: Path) -> Path:
    """Write ``folder/sitecustomize.py`` that installs the recorder, appending to ``records``;
    returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        "import dataclasses, json, sys\n"
        f"sys.path[:0] = [{str(REPO_ROOT)!r}, {str(Path(__file__).parent)!r}]\n"
        "import loop_guard\n"
        "def _record(call):\n"
        f"    with open({str(records)!r}, 'a') as out:\n"
        "        out.write(json.dumps(dataclasses.asdict(call)) + '\\n')\n"
        "loop_guard.install(_record)\n"
    )
    return folder
