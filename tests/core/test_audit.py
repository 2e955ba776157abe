"""The audit chain in the database: appends chain, `xuncha audit verify` finds tampering."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from admin.cli import main
from core.audit import append_event, verify_audit_chain
from core.models import Event
from core.runtime import Runtime
from crypto import ChainBreak
from tests.conftest import BACKENDS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]


async def _five_events(runtime: Runtime) -> list[int]:
    async with runtime.db.transaction() as session:
        return [(await append_event(session, "test.event", detail={"n": n})).seq for n in range(5)]


async def test_appended_events_form_an_intact_chain(demo_runtime: Runtime) -> None:
    await _five_events(demo_runtime)
    async with demo_runtime.db.reading() as session:
        verdict = await verify_audit_chain(session)
    assert verdict.intact
    assert verdict.checked >= 5


@pytest.mark.parametrize("tamper", ["edit", "delete"])
async def test_tampering_is_pinpointed(demo_runtime: Runtime, tamper: str) -> None:
    seqs = await _five_events(demo_runtime)
    target = seqs[2]
    async with demo_runtime.db.transaction() as session:
        if tamper == "edit":
            await session.execute(update(Event).where(Event.seq == target).values(detail={"n": 99}))
        else:
            await session.execute(delete(Event).where(Event.seq == target))
    async with demo_runtime.db.reading() as session:
        verdict = await verify_audit_chain(session)
    assert not verdict.intact
    if tamper == "edit":
        assert verdict.kind is ChainBreak.EDITED
        assert verdict.sequence == target
    else:
        assert verdict.kind is ChainBreak.DELETED
        assert verdict.expected_sequence == target


async def test_cli_verify_exit_codes(
    demo_runtime: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seqs = await _five_events(demo_runtime)
    monkeypatch.setenv("XUNCHA_DATA_DIR", str(demo_runtime.settings.data_dir))
    monkeypatch.setenv("XUNCHA_DATABASE_URL", demo_runtime.settings.database_url.reveal())
    assert await _run_cli() == 0
    async with demo_runtime.db.transaction() as session:
        await session.execute(update(Event).where(Event.seq == seqs[1]).values(kind="forged"))
        first = await session.scalar(select(Event.event_id).where(Event.seq == seqs[1]))
    assert await _run_cli() == 1
    err = capsys.readouterr().err
    assert f"#{seqs[1]}" in err
    assert str(first) in err


async def _run_cli() -> int:
    import asyncio

    return await asyncio.to_thread(main, ["audit", "verify"])
