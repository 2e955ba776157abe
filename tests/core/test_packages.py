"""The top-level package names are generic; make sure they are ours."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["core", "crypto", "routing", "intake", "admin"])
def test_package_imports_from_this_project(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == ROOT / name


def test_console_script_points_at_our_cli() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "xuncha"]
    assert script.value == "admin.cli:main"
