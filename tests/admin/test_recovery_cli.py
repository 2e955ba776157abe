"""`xuncha user recover` at the server. With the recovery code: the same throttle and the same
audit as `/recover` in the console, so the command line is no cheaper door for guessing. With
the escrow key: the same re-keying and the same audit as the console's 托管恢复."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from admin.auth import Authenticator
from admin.throttle import LoginThrottled
from core.settings import Settings
from crypto import DecryptionFailed, armour_escrow_key, totp_code
from tests.admin.administration_support import (
    CliRun,
    EscrowedCounty,
    enrolled_member,
    escrowed_demo,
    events,
    read_case_text,
    run_xuncha,
    submit,
    use_database_of,
    user_key,
    user_key_by_recovery,
    user_named,
)
from tests.conftest import BACKENDS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

FIRST_PASSWORD = "qingshan-lushui-hekou-2026"
NEW_PASSWORD = "dongfeng-cun-shitang-8817"
WRONG_CODE = "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE"
RECOVERY_CODE = re.compile(r"[0-9A-Z]{5}(?:-[0-9A-Z]{5}){4}")


@pytest.fixture
async def county(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EscrowedCounty]:
    async with escrowed_demo(settings) as county:
        use_database_of(monkeypatch, settings)
        yield county


async def _recover(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    username: str,
    code: str,
) -> CliRun:
    """What an operator types: the code, then the new password, at the prompts."""
    return await run_xuncha(
        monkeypatch,
        capsys,
        *("user", "recover", username, "--recovery-code"),
        stdin=f"{code}\n{NEW_PASSWORD}\n",
    )


def _refused(run: CliRun) -> str:
    assert run.returncode == 2, run.stdout
    assert "Traceback" not in run.stderr
    (line,) = run.stderr.strip().splitlines()
    return line


async def test_a_wrong_code_is_refused_counted_and_audited_like_the_console(
    county: EscrowedCounty, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = county.runtime
    code, _ = await enrolled_member(county, "sunli", FIRST_PASSWORD)
    sunli = await user_named(runtime, "sunli")

    wrong = await _recover(monkeypatch, capsys, "sunli", WRONG_CODE)
    assert "用户名或恢复码不正确。" in _refused(wrong)
    malformed = await _recover(monkeypatch, capsys, "sunli", "not a code")
    assert "用户名或恢复码不正确。" in _refused(malformed)
    # One answer for a name that does not exist, and no account to audit it against.
    ghost = await _recover(monkeypatch, capsys, "ghost", WRONG_CODE)
    assert "用户名或恢复码不正确。" in _refused(ghost)

    failed = await events(runtime, "user.recovery_failed")
    assert [(e.actor_id, e.detail) for e in failed] == [
        (sunli.id, {"failures": 1}),
        (sunli.id, {"failures": 2}),
    ]
    assert (await user_named(runtime, "sunli")).failed_logins == 2
    assert await events(runtime, "user.recovered") == []
    # Nothing changed: the old password and the old code still open the key, and no code
    # typed reached the trail.
    await user_key(runtime, "sunli", FIRST_PASSWORD, pepper=True)
    await user_key_by_recovery(runtime, "sunli", code)
    trail = " ".join(str(e.detail) for e in failed)
    assert WRONG_CODE not in trail


async def test_the_command_line_shares_the_login_throttle(
    county: EscrowedCounty, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = county.runtime
    code, secret = await enrolled_member(county, "sunli", FIRST_PASSWORD)
    for _ in range(5):
        _refused(await _recover(monkeypatch, capsys, "sunli", WRONG_CODE))
    # Even the right code waits now, at the command line ...
    locked = await _recover(monkeypatch, capsys, "sunli", code)
    assert "尝试次数过多" in _refused(locked)
    with pytest.raises(DecryptionFailed):
        await user_key(runtime, "sunli", NEW_PASSWORD, pepper=True)
    # ... and the password at the console's login waits with it: one budget for every door.
    with pytest.raises(LoginThrottled):
        await Authenticator(runtime).login("sunli", FIRST_PASSWORD, totp_code(secret, time.time()))
    assert len(await events(runtime, "user.recovery_failed")) == 5


async def test_the_right_code_sets_a_new_password_and_keeps_key_and_second_factor(
    county: EscrowedCounty, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = county.runtime
    code, secret = await enrolled_member(county, "sunli", FIRST_PASSWORD)
    before = await user_named(runtime, "sunli")
    key_before = await user_key(runtime, "sunli", FIRST_PASSWORD, pepper=True)
    _refused(await _recover(monkeypatch, capsys, "sunli", WRONG_CODE))

    done = await _recover(monkeypatch, capsys, "sunli", code.lower())
    assert done.returncode == 0, done.stderr
    (new_code,) = RECOVERY_CODE.findall(done.stdout)
    assert new_code != code
    key_after = await user_key(runtime, "sunli", NEW_PASSWORD, pepper=True)
    assert key_after.key_id == key_before.key_id
    assert (await user_key_by_recovery(runtime, "sunli", new_code)).key_id == key_before.key_id
    after = await user_named(runtime, "sunli")
    assert after.totp_secret == before.totp_secret
    assert after.failed_logins == 0  # a success clears the count, as a login does
    (recovered,) = await events(runtime, "user.recovered")
    assert recovered.actor_id == after.id
    outcome = await Authenticator(runtime).login(
        "sunli", NEW_PASSWORD, totp_code(secret, time.time())
    )
    assert outcome.user.id == after.id


async def test_escrow_recovery_at_the_server_is_audited_as_in_the_console(
    county: EscrowedCounty,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runtime = county.runtime
    case_id = await submit(runtime)  # 第一巡察组 reads it
    armour = tmp_path / "escrow.txt"
    armour.write_text(armour_escrow_key(county.escrow))
    run = await run_xuncha(
        monkeypatch, capsys, "user", "recover", "group1", "--escrow-key", str(armour)
    )
    assert run.returncode == 0, run.stderr
    assert "机构密钥已重新授权" in run.stdout
    lines = run.stdout.splitlines()
    token = lines[next(i for i, line in enumerate(lines) if line.startswith("邀请码")) + 1]
    accepted = await run_xuncha(
        monkeypatch, capsys, "user", "accept", stdin=f"{token.strip()}\n{NEW_PASSWORD}\n"
    )
    assert accepted.returncode == 0, accepted.stderr
    keys = await user_key(runtime, "group1", NEW_PASSWORD, pepper=True)
    assert await read_case_text(runtime, "group1", keys, case_id)
    (reissued,) = await events(runtime, "user.invitation_reissued")
    assert reissued.actor_id is None  # the command line acts as the server's operator
    assert reissued.detail["granted"] is True
    (used,) = await events(runtime, "keys.escrow_used")
    assert used.detail == {"key_id": county.escrow.key_id, "purpose": "recovery", "user": "group1"}
