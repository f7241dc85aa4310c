"""wire/ is sans-I/O: it imports no socket, select, selectors, threading or asyncio."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import hosepipe.wire

FORBIDDEN = {"socket", "select", "selectors", "threading", "asyncio", "_thread", "ssl"}
WIRE = Path(hosepipe.wire.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_wire_module_imports_io() -> None:
    modules = sorted(WIRE.glob("*.py"))
    assert len(modules) >= 4
    for path in modules:
        for name in imported_modules(path):
            assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
            if name.startswith("hosepipe."):
                assert name.startswith(("hosepipe.wire", "hosepipe.errors")), (
                    f"{path.name} imports {name}, outside the sans-I/O core"
                )


def test_importing_the_wire_core_loads_no_io_module() -> None:
    """``import hosepipe.wire`` in a fresh interpreter, as a user writes it: the package
    itself is lazy, so nothing beyond the sans-I/O core is loaded."""
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import hosepipe.wire, hosepipe.wire.framing, hosepipe.wire.codecs, hosepipe.wire.hello\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    loaded = set(result.stdout.split())
    assert "hosepipe.wire.framing" in loaded
    assert not loaded & FORBIDDEN, loaded & FORBIDDEN
    assert not {m for m in loaded if m.startswith("hosepipe.")
                and not m.startswith(("hosepipe.wire", "hosepipe.errors"))} - {"hosepipe"}
