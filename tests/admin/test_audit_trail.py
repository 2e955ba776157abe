"""The console's audit trail: what staff did is in the hash chain, the audit page shows it
without report content, and `xuncha audit verify` names the first edited, deleted or
reordered event."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, select, update

from admin.cli import main
from core.models import Event
from core.runtime import Runtime
from tests.admin.case_support import submit
from tests.admin.conftest import Login
from tests.conftest import BACKENDS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]


async def _console_session(login: Login, runtime: Runtime) -> str:
    case_id, _ = await submit(runtime)
    group1 = await login("group1")
    await group1.get(f"/api/v1/cases/{case_id}")
    await group1.post(
        f"/api/v1/cases/{case_id}/transfer",
        json={"destination": "county_discipline_commission", "note": "请核查"},
    )
    xcb = await login("xcb")
    await xcb.post(f"/api/v1/cases/{case_id}/transfer/approve")
    return case_id


async def test_audit_page_lists_staff_actions_without_content(
    login: Login, demo_runtime: Runtime
) -> None:
    await _console_session(login, demo_runtime)
    leader = await login("leader")
    page = await leader.get("/audit")
    assert page.status_code == 200
    for label in ("登录", "查看（解密）", "提出移交", "同意移交"):
        assert label in page.text
    assert "王某某" not in page.text
    assert "请核查" not in page.text
    verified = await leader.get("/audit?verify=1")
    assert "审计链完整" in verified.text
    only_views = await leader.get("/audit?kind=case.viewed")
    assert "同意移交" not in only_views.text.split("<tbody>")[1]


async def _verify_cli(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("XUNCHA_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("XUNCHA_DATABASE_URL", runtime.settings.database_url.reveal())
    return await asyncio.to_thread(main, ["audit", "verify"])


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
async def test_tampering_with_staff_events_is_found(
    login: Login,
    demo_runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tamper: str,
) -> None:
    case_id = await _console_session(login, demo_runtime)
    assert await _verify_cli(demo_runtime, monkeypatch) == 0
    async with demo_runtime.db.transaction() as session:
        viewed = await session.scalar(
            select(Event).where(Event.case_id == case_id, Event.kind == "case.viewed")
        )
        assert viewed is not None
        target, target_id = viewed.seq, viewed.event_id
        if tamper == "edit":  # hide who opened the case
            await session.execute(update(Event).where(Event.seq == target).values(actor_id=None))
        elif tamper == "delete":
            await session.execute(delete(Event).where(Event.seq == target))
        else:  # swap it with the event after it
            await session.execute(update(Event).where(Event.seq == target).values(seq=-1))
            await session.execute(update(Event).where(Event.seq == target + 1).values(seq=target))
            await session.execute(update(Event).where(Event.seq == -1).values(seq=target + 1))
    capsys.readouterr()
    assert await _verify_cli(demo_runtime, monkeypatch) == 1
    err = capsys.readouterr().err
    assert f"#{target}" in err
    if tamper == "edit":
        assert target_id in err
    xcb = await login("xcb")
    page = await xcb.get("/audit?verify=1")
    assert "审计链断裂" in page.text
