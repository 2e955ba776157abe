"""Helpers for the administration tests: events, counts, opening a case as a member, an
enrolled member, and the `xuncha` command run in-process against the test's database."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select, update

from core.bootstrap import initialise
from core.cases import Accused, Channel, NewReport
from core.county import Role
from core.models import CaseField, Event, User
from core.runtime import Runtime
from core.settings import Settings
from crypto import KeyPair, new_totp_secret, open_text, read_escrow_armour
from crypto.user_keys import unwrap_user_key_with_password, unwrap_user_key_with_recovery_code


async def count(runtime: Runtime, model: type, *where: Any) -> int:
    async with runtime.db.reading() as session:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)
        return await session.scalar(query) or 0


async def events(runtime: Runtime, kind: str) -> list[Event]:
    async with runtime.db.reading() as session:
        return list(await session.scalars(select(Event).where(Event.kind == kind)))


async def user_named(runtime: Runtime, username: str) -> User:
    async with runtime.db.reading() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        return user


async def user_key(
    runtime: Runtime, username: str, password: str, *, pepper: bool = False
) -> KeyPair:
    user = await user_named(runtime, username)
    assert user.private_key_by_password is not None
    return unwrap_user_key_with_password(
        user.private_key_by_password,
        user.id,
        password,
        pepper=runtime.secrets.pepper if pepper else None,
    )


async def user_key_by_recovery(runtime: Runtime, username: str, code: str) -> KeyPair:
    user = await user_named(runtime, username)
    assert user.private_key_by_recovery is not None
    return unwrap_user_key_with_recovery_code(user.private_key_by_recovery, user.id, code)


async def read_case_text(runtime: Runtime, username: str, keys: KeyPair, case_id: str) -> str:
    """What a member reads: user key -> body key grant -> case key -> the sealed text."""
    from core.access import open_data_key, viewer_for

    user = await user_named(runtime, username)
    async with runtime.db.reading() as session:
        viewer = await viewer_for(session, user.id)
        data_key = await open_data_key(session, viewer, keys, case_id)
        field = await session.get(CaseField, (case_id, "text"))
        assert field is not None
        return open_text(data_key, case_id, "text", field.sealed)


@dataclass(frozen=True)
class EscrowedCounty:
    """The demo county, opened, with the escrow private key that init printed once."""

    runtime: Runtime
    escrow: KeyPair


@asynccontextmanager
async def escrowed_demo(settings: Settings) -> AsyncIterator[EscrowedCounty]:
    report = await initialise(settings, demo=True)
    assert report.escrow_armour is not None
    runtime = Runtime.open(settings)
    try:
        yield EscrowedCounty(runtime, read_escrow_armour(report.escrow_armour))
    finally:
        await runtime.close()


REPORT = NewReport(
    channel=Channel.WEB,
    text="县教育局基建股股长王某某收受工程老板红包两万元，帮其拿到学校食堂改造工程。",
    accused=Accused(name="王某某", unit="县教育局", position="基建股股长"),
    contact="13800000000",
)


async def submit(runtime: Runtime, report: NewReport = REPORT) -> str:
    """Submit through the one intake pipeline; return the new case's id."""
    from intake.pipeline import Draft, IntakePipeline

    draft = Draft()
    await IntakePipeline(runtime).submit(report, draft)
    return draft.case_id


async def invite_member(runtime: Runtime, username: str, *, escrow: KeyPair | None = None) -> str:
    """Invite ``username`` into 第一巡察组 (granted the body key at once with ``escrow``); the
    invitation's one-time token."""
    from core.staff_admin import invite_user

    async with runtime.db.transaction() as session:
        invitation, _ = await invite_user(
            session,
            username,
            Role.MEMBER,
            email=f"{username}@xuncha.local",
            body_name="第一巡察组",
            escrow=escrow,
            actor_id=None,
        )
    return invitation.token


async def accept(runtime: Runtime, token: str, password: str) -> str:
    """Accept an invitation with ``password``; the recovery code it shows once."""
    from core.invitations import accept_invitation

    async with runtime.db.transaction() as session:
        enrolment = await accept_invitation(
            session,
            token,
            password,
            params=runtime.settings.password_kdf,
            pepper=runtime.secrets.pepper,
        )
    return enrolment.recovery_code


async def enrolled_member(
    county: EscrowedCounty, username: str, password: str
) -> tuple[str, bytes]:
    """A 第一巡察组 member who accepted an invitation and enrolled 2FA: (recovery code, secret)."""
    from admin.auth import seal_totp_secret

    runtime = county.runtime
    token = await invite_member(runtime, username, escrow=county.escrow)
    recovery_code = await accept(runtime, token, password)
    secret = new_totp_secret()
    user = await user_named(runtime, username)
    async with runtime.db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.id == user.id)
            .values(totp_secret=seal_totp_secret(runtime, user.id, secret))
        )
    return recovery_code, secret


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str


def use_database_of(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point `xuncha` (which reads only the environment) at this test's data dir and database."""
    for name in [k for k in os.environ if k.startswith("XUNCHA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XUNCHA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("XUNCHA_DATABASE_URL", settings.database_url.reveal())


async def run_xuncha(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    stdin: str = "",
) -> CliRun:
    """The CLI's main() in a worker thread (it runs its own event loop), secrets on stdin."""
    from admin.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        code = await anyio.to_thread.run_sync(main, list(args))
    finally:
        os.umask(umask)  # main() narrows it for the files it creates
    out, err = capsys.readouterr()
    return CliRun(code, out, err)
