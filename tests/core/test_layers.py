"""The architecture holds (docs/architecture.md): the import contracts of pyproject.toml, no
import tucked into a function to dodge a cycle, the engine's SQL naming its tables through the
models, and no module too long to read."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    path
    for package in ("apps", "inventory_site")
    for path in (ROOT / package).rglob("*.py")
    if "migrations" not in path.parts
]
# Function-local imports other than in AppConfig.ready() (where Django requires them), with why.
LOCAL_IMPORTS_ALLOWED = {
    # openpyxl is heavy and only needed when someone uploads an XLSX file.
    ("apps/reports/imports.py", "openpyxl"),
}
MAX_MODULE_LINES = 600


def test_the_import_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def _local_imports(path: Path) -> list[tuple[str, str, int]]:
    """(enclosing function, imported module, line) of every import inside a function."""
    found = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if function is not None and isinstance(child, ast.Import | ast.ImportFrom):
                module = child.module if isinstance(child, ast.ImportFrom) else child.names[0].name
                found.append((function, module or "", child.lineno))
            visit(child, function)

    visit(ast.parse(path.read_text()), None)
    return found


def test_function_local_imports_are_only_where_django_requires_them():
    offenders = []
    for path in SOURCES:
        name = path.relative_to(ROOT).as_posix()
        for function, module, line in _local_imports(path):
            in_ready = function == "ready" and path.name == "apps.py"
            if not in_ready and (name, module) not in LOCAL_IMPORTS_ALLOWED:
                offenders.append(f"{name}:{line} imports {module} in {function}()")
    assert offenders == []


def test_the_guard_finds_local_imports(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text("import os\n\n\ndef f():\n    from apps.events import services\n")
    assert _local_imports(path) == [("f", "apps.events", 5)]


HAND_WRITTEN_TABLE = re.compile(
    r"\b(FROM|INTO|UPDATE|JOIN)\s+(inventory|catalog|locations|merchants|core)_[a-z]+\b",
    re.IGNORECASE,
)


def test_the_engine_and_core_take_table_names_from_the_models():
    assert (ROOT / "apps/inventory/engine/statements/__init__.py").exists()
    checked = [
        path
        for folder in ("apps/inventory/engine", "apps/inventory/services", "apps/core")
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts
    ]
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in checked
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if HAND_WRITTEN_TABLE.search(line)
    ]
    assert offenders == []


def test_no_module_is_longer_than_a_reader_can_hold():
    long = {
        path.relative_to(ROOT).as_posix(): lines
        for path in SOURCES
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
