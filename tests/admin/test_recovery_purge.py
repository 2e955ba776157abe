"""Expired invitations: purged by the worker and by `xuncha user purge-invitations`, audited
once per user; the user can be invited again from the console and from the command line."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from admin.app import create_app
from admin.worker import InvitationPurge
from core.county import now
from core.errors import Forbidden
from core.models import User
from core.runtime import Runtime
from core.settings import Settings
from tests.admin.administration_support import (
    EscrowedCounty,
    accept,
    escrowed_demo,
    events,
    invite_member,
    read_case_text,
    run_xuncha,
    submit,
    use_database_of,
    user_key,
    user_named,
)
from tests.admin.conftest import BASE_URL
from tests.conftest import BACKENDS, DEMO_PASSWORD

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

PASSWORD = "hekou-zhen-shuiku-2026"
SAME_ORIGIN = {"origin": BASE_URL}


@pytest.fixture
async def county(settings: Settings) -> AsyncIterator[EscrowedCounty]:
    async with escrowed_demo(settings) as county:
        yield county


async def _age(runtime: Runtime, username: str, days: int = 8) -> None:
    """Move an invitation's expiry into the past, as if ``days`` had gone by."""
    user = await user_named(runtime, username)
    assert user.invitation_expires_at is not None
    async with runtime.db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.id == user.id)
            .values(invitation_expires_at=user.invitation_expires_at - timedelta(days=days))
        )


async def test_the_worker_purges_expired_invitations_only_and_audits_each_once(
    county: EscrowedCounty,
) -> None:
    runtime = county.runtime
    expired_token = await invite_member(runtime, "wangwei")
    await invite_member(runtime, "lina")  # still valid
    accepted_token = await invite_member(runtime, "sunli")
    await accept(runtime, accepted_token, PASSWORD)
    await _age(runtime, "wangwei")

    purge = InvitationPurge(runtime)
    assert await purge.run_once() == ["wangwei"]
    wangwei = await user_named(runtime, "wangwei")
    assert wangwei.invitation_lookup is None
    assert wangwei.invitation_expires_at is None
    assert wangwei.private_key_by_invitation is None
    assert wangwei.disabled_at is None  # the user stays, to be invited again
    lina = await user_named(runtime, "lina")
    assert lina.invitation_lookup is not None
    assert lina.private_key_by_invitation is not None
    assert (await user_named(runtime, "sunli")).password_hash is not None
    # A second run finds nothing: one audit event per expired invitation.
    assert await purge.run_once() == []
    (event,) = await events(runtime, "user.invitation_expired")
    assert event.detail == {"user": "wangwei"}
    assert event.actor_id is None
    with pytest.raises(Forbidden):
        await accept(runtime, expired_token, PASSWORD)
    # Lina's turn comes when hers runs out (the worker's clock moved on eight days).
    later = InvitationPurge(runtime, clock=lambda: now() + timedelta(days=8))
    assert await later.run_once() == ["lina"]
    assert len(await events(runtime, "user.invitation_expired")) == 2


async def test_the_purge_loop_runs_until_stopped(county: EscrowedCounty) -> None:
    runtime = county.runtime
    await invite_member(runtime, "wangwei")
    await _age(runtime, "wangwei")
    stop = asyncio.Event()
    loop = asyncio.ensure_future(
        InvitationPurge(runtime, interval=timedelta(milliseconds=50)).run(stop)
    )
    for _ in range(100):
        if (await user_named(runtime, "wangwei")).invitation_lookup is None:
            break
        await asyncio.sleep(0.05)
    assert (await user_named(runtime, "wangwei")).invitation_lookup is None
    stop.set()
    await asyncio.wait_for(loop, timeout=5)
    assert len(await events(runtime, "user.invitation_expired")) == 1


async def test_an_expired_user_is_invited_again_from_the_console(
    county: EscrowedCounty,
) -> None:
    runtime = county.runtime
    case_id = await submit(runtime)
    await invite_member(runtime, "wangwei", escrow=county.escrow)
    await _age(runtime, "wangwei")
    await InvitationPurge(runtime).run_once()
    app = create_app(runtime.settings, runtime)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as xcb,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as invitee,
    ):
        login = await xcb.post(
            "/api/v1/session", json={"username": "xcb", "password": DEMO_PASSWORD}
        )
        csrf = login.json()["csrf_token"]
        users = await xcb.get("/admin/users")
        assert re.search(r"<td>wangwei</td>.*?邀请已过期.*?value=\"reinvite\"", users.text, re.S)
        group1_row = re.search(r"<tr><td>group1</td>.*?</td></tr>", users.text, re.S)
        assert group1_row is not None
        assert "<td>正常</td>" in group1_row.group(0)
        assert "reinvite" not in group1_row.group(0)
        again = await xcb.post(
            "/admin/users/wangwei",
            data={"csrf": csrf, "action": "reinvite"},
            headers=SAME_ORIGIN,
        )
        assert again.status_code == 200
        assert "已为 wangwei 重新生成邀请（机构密钥待授权）" in again.text
        token = re.search(r'<p class="code">([^<]+)</p>', again.text)
        assert token is not None
        # Someone who set a password is not re-keyed by mistake.
        refused = await xcb.post(
            "/admin/users/group1",
            data={"csrf": csrf, "action": "reinvite"},
            headers=SAME_ORIGIN,
        )
        assert refused.status_code == 409
        form = {"code": token.group(1), "password": PASSWORD, "password_again": PASSWORD}
        accepted = await invitee.post("/invitation", data=form, headers=SAME_ORIGIN)
        assert accepted.status_code == 200
    # The new key waits for the group's grant (the old one was never opened), then reads.
    keys = await user_key(runtime, "wangwei", PASSWORD, pepper=True)
    from core.body_keys import body_keys_via_escrow, complete_pending_grants
    from core.county import body_by_name

    async with runtime.db.transaction() as session:
        body = await body_by_name(session, "第一巡察组")
        body_keys = await body_keys_via_escrow(session, body, county.escrow)
        assert await complete_pending_grants(session, body, body_keys, actor_id=None) == ["wangwei"]
    assert await read_case_text(runtime, "wangwei", keys, case_id)
    (reissued,) = await events(runtime, "user.invitation_reissued")
    assert reissued.actor_id == (await user_named(runtime, "xcb")).id


async def _xuncha(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    run = await run_xuncha(monkeypatch, capsys, *args)
    return run.returncode, run.stdout


async def test_purge_and_re_invitation_from_the_command_line(
    county: EscrowedCounty,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runtime = county.runtime
    await invite_member(runtime, "wangwei")
    await invite_member(runtime, "lina")
    await _age(runtime, "wangwei")
    use_database_of(monkeypatch, settings)

    # Expired before the purge as after it, as on /admin/users: the same rule decides.
    code, out = await _xuncha(monkeypatch, capsys, "user", "list")
    assert code == 0
    assert "wangwei\tmember\t第一巡察组\t邀请已过期\n" in out
    assert "lina\tmember\t第一巡察组\t待接受邀请\n" in out
    assert "group1\tmember\t第一巡察组\t正常\n" in out

    code, out = await _xuncha(monkeypatch, capsys, "user", "purge-invitations")
    assert code == 0
    assert "已清除过期邀请：wangwei" in out
    assert "lina" not in out
    assert "共清除 1 个过期邀请。" in out
    code, out = await _xuncha(monkeypatch, capsys, "user", "purge-invitations")
    assert code == 0
    assert "共清除 0 个过期邀请。" in out
    assert len(await events(runtime, "user.invitation_expired")) == 1

    code, out = await _xuncha(monkeypatch, capsys, "user", "recover", "wangwei", "--reinvite")
    assert code == 0
    token = re.search(r"邀请码.*\n\s+(\S+)\n", out)
    assert token is not None
    code, out = await _xuncha(monkeypatch, capsys, "user", "list")
    assert "wangwei\tmember\t第一巡察组\t待接受邀请\n" in out
    await accept(runtime, token.group(1), PASSWORD)
    assert (await user_named(runtime, "wangwei")).password_hash is not None
