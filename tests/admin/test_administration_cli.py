"""The administration commands as an operator runs them: `python -m admin.cli …` in a shell."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from admin.cli_admin import BODY_KINDS
from core.county import BodyKind
from tests.admin.administration_support import CliRun, run_xuncha
from tests.conftest import BACKENDS

Run = CliRun

Xuncha = Callable[..., Awaitable[Run]]


@pytest.fixture
def xuncha(
    tmp_path: Path,
    fresh_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Xuncha:
    """``await xuncha("unit", "import", path, stdin=…)``: the CLI's main(), in a worker thread
    (it runs its own event loop), against this test's database."""
    for name in [k for k in os.environ if k.startswith("XUNCHA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XUNCHA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XUNCHA_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("XUNCHA_RECEIPT_KDF_MEMORY_KIB", "8192")
    monkeypatch.setenv("XUNCHA_RECEIPT_KDF_ITERATIONS", "1")

    async def run(*args: str, stdin: str = "") -> Run:
        return await run_xuncha(monkeypatch, capsys, *args, stdin=stdin)

    return run


def _ok(result: Run) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _refused(result: Run, *needles: str) -> None:
    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    for needle in needles:
        assert needle in line


def _token(output: str) -> str:
    lines = output.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("邀请码"))
    return lines[index + 1].strip()


@pytest.mark.anyio
@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
async def test_first_run_and_administration_from_the_shell(tmp_path: Path, xuncha: Xuncha) -> None:
    out = _ok(await xuncha("init", "--admin-username", "admin", "--admin-email", "admin@xc.cn"))
    assert "县委巡察办" in out
    assert "docs/key-ceremony.md" in out
    accepted = _ok(
        await xuncha("user", "accept", stdin=f"{_token(out)}\n管理员的密码要足够长才行\n")
    )
    assert "恢复码" in accepted

    sheet = tmp_path / "units.csv"
    sheet.write_text("名称,类型,别名\n县审计局,县政府部门,审计局\n县统计局,县直单位,\n")
    _refused(await xuncha("unit", "import", str(sheet)), "第 3 行", "未导入任何单位")
    sheet.write_text("名称,类型,别名\n县审计局,县政府部门,审计局\n柳林镇,镇（街道）,\n")
    assert "新增单位：柳林镇" in _ok(await xuncha("unit", "import", str(sheet)))

    custody = tmp_path / "data" / "escrow-private-key.txt"
    out = _ok(
        await xuncha(
            *("user", "add", "wang", "--role", "member", "--body", "第一巡察组"),
            *("--email", "wang@xc.cn", "--escrow-key", str(custody)),
        )
    )
    assert "待授权" not in out
    assert len(_token(out)) >= 40

    assign = ("--assign", "第一巡察组=县审计局", "--assign", "第二巡察组=柳林镇,审计局")
    dates = ("--start", "2026-11-01", "--end", "2026-12-31")
    _refused(
        await xuncha("round", "create", "--name", "第一轮", "--type", "常规", *dates, *assign),
        "县审计局",
    )
    _ok(
        await xuncha(
            *("round", "create", "--name", "第一轮", "--type", "常规", *dates),
            *("--assign", "第一巡察组=县审计局", "--assign", "第二巡察组=柳林镇"),
        )
    )
    assert "回避" in _ok(await xuncha("recusal", "add", "wang", "--unit", "柳林镇"))

    ledger = tmp_path / "ledger.csv"
    _ok(await xuncha("export", "ledger", "--format", "csv", "--output", str(ledger)))
    header = next(csv.reader(io.StringIO(ledger.read_text(encoding="utf-8-sig"))))
    assert header[0] == "案件编号"
    assert ledger.stat().st_mode & 0o777 == 0o600

    assert "已停用" in _ok(await xuncha("user", "disable", "wang"))
    listing = _ok(await xuncha("user", "list"))
    assert "wang\tmember\t第一巡察组\t已停用" in listing
    assert "admin\tadmin\t县委巡察办\t正常" in listing
    _refused(await xuncha("user", "disable", "admin"), "最后一个")

    fingerprint = _ok(await xuncha("keys", "fingerprint"))
    assert "指纹" in fingerprint
    rotated = _ok(await xuncha("keys", "rotate", "第一巡察组"))
    assert "旧案件仍可阅读" in rotated
    assert "新密钥已授权给：（无成员）" in rotated  # wang was disabled before the rotation

    exported = _ok(await xuncha("keys", "escrow-export"))
    assert "BEGIN XUNCHA ESCROW PRIVATE KEY" in exported
    assert "[ ]" in exported
    assert not custody.exists()
    _refused(await xuncha("keys", "escrow-export"), "已于")
    assert (await xuncha("audit", "verify")).returncode == 0


def test_body_kinds_of_the_parser_are_the_models() -> None:
    assert tuple(kind.value for kind in BodyKind) == BODY_KINDS
