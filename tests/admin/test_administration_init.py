"""`xuncha init` without --demo: the structural bodies and one administrator, nothing else."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.bootstrap import initialise
from core.db import Database
from core.errors import Conflict
from core.first_run import STRUCTURAL_BODIES, FirstAdmin
from core.invitations import accept_invitation
from core.models import (
    Body,
    BodyKey,
    BodyKeyGrant,
    Case,
    Membership,
    Round,
    Unit,
    User,
)
from core.settings import Settings
from crypto import unwrap_body_key
from crypto.user_keys import unwrap_user_key_with_password
from tests.conftest import BACKENDS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

ADMIN = FirstAdmin(username="admin", email="admin@xuncha.example")
PASSWORD = "县委巡察办-first-admin"


async def _snapshot(db: Database) -> dict[str, int]:
    async with db.reading() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Unit, Body, BodyKey, User, Membership, BodyKeyGrant, Round, Case)
        }


async def test_first_run_creates_structure_and_one_admin_who_reads_as_the_office(
    settings: Settings,
) -> None:
    report = await initialise(settings, demo=False, first_admin=ADMIN)
    assert report.structure_created
    assert not report.demo_loaded
    assert report.admin_invitation is not None
    assert not report.admin_missing
    db = Database.from_url(settings.database_url.reveal())
    try:
        async with db.reading() as session:
            bodies = {b.name: b.kind for b in await session.scalars(select(Body))}
            assert bodies == {name: kind.value for name, kind in STRUCTURAL_BODIES}
            assert "县委巡察办" in bodies
            assert "巡察工作领导小组" in bodies
            (admin,) = await session.scalars(select(User))
            assert (admin.username, admin.role, admin.email) == (
                "admin",
                "admin",
                "admin@xuncha.example",
            )
        counts = await _snapshot(db)
        assert counts["units"] == counts["rounds"] == counts["cases"] == 0
        assert counts["memberships"] == 1
        # One grant to escrow per body, one to the admin for the office.
        assert counts["body_key_grants"] == len(STRUCTURAL_BODIES) + 1

        async with db.transaction() as session:
            from core.keyfile import load_server_secrets

            secrets = load_server_secrets(settings.key_file)
            await accept_invitation(
                session,
                report.admin_invitation.token,
                PASSWORD,
                params=settings.password_kdf,
                pepper=secrets.pepper,
            )
        async with db.reading() as session:
            admin = await session.scalar(select(User))
            assert admin is not None
            assert admin.private_key_by_password is not None
            keys = unwrap_user_key_with_password(
                admin.private_key_by_password, admin.id, PASSWORD, pepper=secrets.pepper
            )
            office = await session.scalar(select(Body).where(Body.kind == "office"))
            grant = await session.scalar(
                select(BodyKeyGrant).where(BodyKeyGrant.user_id == admin.id)
            )
            assert office is not None
            assert grant is not None
            assert unwrap_body_key(grant.wrapped, office.id, keys).key_id == grant.body_key_id

        # Idempotent: a second init (with or without the flags) changes nothing.
        before = await _snapshot(db)
        again = await initialise(settings, demo=False, first_admin=FirstAdmin("other", "o@x.cn"))
        assert not again.structure_created
        assert again.admin_invitation is None
        assert await _snapshot(db) == before
    finally:
        await db.dispose()


async def test_structure_first_admin_later_is_granted_through_the_custody_file(
    settings: Settings,
) -> None:
    first = await initialise(settings, demo=False)  # e.g. `xuncha serve` on a fresh directory
    assert first.structure_created
    assert first.admin_missing
    assert first.escrow_armour is not None
    later = await initialise(
        settings, demo=False, first_admin=ADMIN, escrow_armour_on_disk=first.escrow_armour
    )
    assert later.admin_invitation is not None
    db = Database.from_url(settings.database_url.reveal())
    try:
        async with db.reading() as session:
            admin = await session.scalar(select(User))
            assert admin is not None
            grants = await session.scalar(
                select(func.count())
                .select_from(BodyKeyGrant)
                .where(BodyKeyGrant.user_id == admin.id)
            )
            assert grants == 1
    finally:
        await db.dispose()


async def test_demo_and_real_county_do_not_mix(settings: Settings) -> None:
    await initialise(settings, demo=False, first_admin=ADMIN)
    with pytest.raises(Conflict):
        await initialise(settings, demo=True)


async def test_plain_init_on_a_demo_database_adds_nothing(settings: Settings) -> None:
    await initialise(settings, demo=True)
    report = await initialise(settings, demo=False, first_admin=ADMIN)
    assert not report.structure_created
    assert report.admin_invitation is None
    db = Database.from_url(settings.database_url.reveal())
    try:
        async with db.reading() as session:
            assert await session.scalar(select(User).where(User.username == "admin")) is None
    finally:
        await db.dispose()
