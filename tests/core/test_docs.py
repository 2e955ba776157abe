"""Every setting is documented: a variable read in core/settings.py must be in the README."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _variables_read() -> set[str]:
    source = (ROOT / "core" / "settings.py").read_text(encoding="utf-8")
    return {"XUNCHA_" + name for name in re.findall(r'get\("([A-Z_]+)"', source)} | {
        "XUNCHA_" + name for name in re.findall(r'_int\(get, "([A-Z_]+)"', source)
    }


def test_settings_are_found() -> None:
    assert {"XUNCHA_DATA_DIR", "XUNCHA_DATABASE_URL", "XUNCHA_KEY_FILE"} <= _variables_read()


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = "\n".join(line for line in readme.splitlines() if line.startswith("| `XUNCHA_"))
    documented = set(re.findall(r"`(XUNCHA_[A-Z_]+)`", table))
    assert sorted(_variables_read() - documented) == []


def test_readme_names_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme
    assert "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
