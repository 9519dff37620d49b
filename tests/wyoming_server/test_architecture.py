"""The import rules of docs/architecture.md, read from the source with ``ast``.

server → workers_ai ← component, doctor → workers_ai, the emulator imports nothing of the server,
and no two modules import each other (directly or round a longer circle). Imports inside
functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "wyoming_server"
COMPONENT = ROOT / "custom_components" / "workers_ai_speech"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> Iterator[str]:
    """Every module ``path`` imports (absolute names; ``from x import y`` yields x and x.y)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


def sources(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


# (importing subpackage, forbidden targets, why)
RULES = [
    (
        "wyoming_server.workers_ai",
        (
            "wyoming",
            "homeassistant",
            "wyoming_server.server",
            "wyoming_server.doctor",
            "wyoming_server.emulator",
            "wyoming_server.backend",
            "wyoming_server.credentials",
        ),
        "the client is shared by the server, the doctor and the Home Assistant component",
    ),
    (
        "wyoming_server.server",
        ("homeassistant", "wyoming_server.doctor", "wyoming_server.emulator"),
        "the server reaches the emulator only through backend, and never the doctor",
    ),
    (
        "wyoming_server.doctor",
        ("homeassistant", "wyoming_server.server", "wyoming_server.emulator"),
        "the doctor checks Workers AI through the client (and fallback Wyoming servers with the "
        "wyoming library), never through our Wyoming server",
    ),
    (
        "wyoming_server.emulator",
        (
            "homeassistant",
            "wyoming",
            "wyoming_server.server",
            "wyoming_server.doctor",
            "wyoming_server.workers_ai",
            "wyoming_server.backend",
            "wyoming_server.credentials",
        ),
        "the emulator stands in for Cloudflare: it follows the public evidence, not our client",
    ),
    (
        "custom_components.workers_ai_speech",
        ("wyoming", "wyoming_server.server", "wyoming_server.emulator", "wyoming_server.backend"),
        "the component calls Workers AI directly through the client (and the doctor, for the "
        "run_check action)",
    ),
]


def violations(files: list[Path]) -> list[str]:
    found = []
    for path in files:
        name = module_name(path)
        for scope, forbidden, why in RULES:
            if not under(name, scope):
                continue
            for target in imports_of(path):
                if under(target, *forbidden):
                    found.append(f"{name} imports {target}: {why}")
    return found


def graph(files: list[Path]) -> dict[str, set[str]]:
    modules = {module_name(p): p for p in files}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {t for t in imports_of(path) if t in modules and t != name}
        # ``from . import x`` names the package too; a package's __init__ re-exporting its own
        # modules is not a circle through the package.
        edges[name] = {t for t in targets if not name.startswith(t + ".")}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


ALL = sources(PACKAGE) + sources(COMPONENT)


def test_no_subpackage_imports_what_it_must_not() -> None:
    assert violations(sources(PACKAGE)) == []


@pytest.mark.skipif(sys.version_info < (3, 14), reason="the component is Python 3.14 code")
def test_the_component_imports_only_the_client_and_the_doctor() -> None:
    assert violations(sources(COMPONENT)) == []


def test_no_import_circles() -> None:
    assert cycles(graph(sources(PACKAGE))) == []


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines: split it by job"


@pytest.mark.parametrize(
    "package",
    [PACKAGE, *(p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())],
    ids=lambda p: p.name,
)
def test_each_subpackage_says_its_job_and_its_imports(package: Path) -> None:
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    assert doc, f"{package.name}/__init__.py has no docstring"
    if package != PACKAGE:
        assert "import" in doc, f"{package.name}/__init__.py does not say what it may import"


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The rules bite: a client module importing wyoming and a circle are both reported."""
    fake = tmp_path / "wyoming_server" / "workers_ai"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("def f():\n    from wyoming.event import Event\n")
    global ROOT  # noqa: PLW0603 - module_name() resolves against ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert violations([fake / "bad.py"]) != []
        (fake / "a.py").write_text("from . import b\n")
        (fake / "b.py").write_text("from .a import x\n")
        assert cycles(graph([fake / "a.py", fake / "b.py"])) == [
            ["wyoming_server.workers_ai.a", "wyoming_server.workers_ai.b"]
        ]
    finally:
        ROOT = saved
