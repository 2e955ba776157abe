"""The package stays pure (SPEC §2, §3): stdlib and cryptography only, no I/O frameworks."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import crypto

PACKAGE = Path(crypto.__file__).parent
ALLOWED_THIRD_PARTY = {"cryptography", "crypto"}
FORBIDDEN_STDLIB = {"asyncio", "sqlite3", "socket", "threading", "http", "urllib", "subprocess"}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_stdlib_and_cryptography_are_imported() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        for root in _imported_roots(path) - {"__future__"}:
            assert root in ALLOWED_THIRD_PARTY or root in sys.stdlib_module_names, (path, root)
            assert root not in FORBIDDEN_STDLIB, (path, root)


def test_no_await_and_modules_stay_small() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "await " not in text, path
        assert "async def" not in text, path
        assert len(text.splitlines()) < 250, path


def test_public_api_is_exported() -> None:
    for name in crypto.__all__:
        assert hasattr(crypto, name), name
