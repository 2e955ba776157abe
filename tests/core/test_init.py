"""`xuncha init [--demo]`: keys, schema and demo county, idempotent and safe to race."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.bootstrap import initialise
from core.db import Database
from core.demo import ASSIGNMENTS, GROUPS, ROUND_NAME, UNITS, USERS
from core.keyfile import load_server_secrets
from core.models import Body, BodyKeyGrant, Membership, Round, RoundAssignment, Unit, User
from core.settings import Settings
from crypto.keys import unwrap_body_key
from crypto.passwords import verify_password
from crypto.user_keys import unwrap_user_key_with_password
from tests.conftest import BACKENDS

pytestmark = pytest.mark.anyio

TODAY = date(2026, 11, 28)


async def _counts(settings: Settings) -> dict[str, int]:
    db = Database.from_url(settings.database_url.reveal())
    try:
        async with db.transaction() as session:
            return {
                model.__tablename__: await session.scalar(select(func.count()).select_from(model))
                or 0
                for model in (Unit, Body, User, Membership, Round, RoundAssignment, BodyKeyGrant)
            }
    finally:
        await db.dispose()


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
async def test_demo_county_is_spec_section_7(settings: Settings) -> None:
    report = await initialise(settings, demo=True, today=TODAY)
    assert report.key_file_created
    assert report.migrated
    assert report.demo_loaded
    assert report.escrow_armour is not None
    assert "ESCROW PRIVATE KEY" in report.escrow_armour
    db = Database.from_url(settings.database_url.reveal())
    try:
        async with db.transaction() as session:
            units = set(await session.scalars(select(Unit.name)))
            assert units == {name for name, _, _ in UNITS}
            assert len(units) == 11
            bodies = {b.name: b for b in await session.scalars(select(Body))}
            for name in (*GROUPS, "县委巡察办", "县纪委", "县委组织部", "相关部门"):
                assert name in bodies
            assert sum(b.kind == "unit_party_org" for b in bodies.values()) == 11
            (round_,) = await session.scalars(select(Round))
            assert round_.name == ROUND_NAME
            assert (round_.start_on, round_.end_on) == (
                TODAY - timedelta(days=10),
                TODAY + timedelta(days=20),
            )
            pairs = {
                (bodies_by_id.name, unit_name)
                for bodies_by_id, unit_name in (
                    await session.execute(
                        select(Body, Unit.name)
                        .join(RoundAssignment, RoundAssignment.group_body_id == Body.id)
                        .join(Unit, Unit.id == RoundAssignment.unit_id)
                    )
                ).all()
            }
            assert pairs == set(ASSIGNMENTS.items())
            users = {u.username: u for u in await session.scalars(select(User))}
            assert set(users) == {name for name, _, _ in USERS}
            assert all(u.email == f"{name}@xuncha.local" for name, u in users.items())

            # group1 can log in and open 第一巡察组's private key through membership.
            group1 = users["group1"]
            assert group1.password_hash is not None
            assert verify_password("demo-password-42", group1.password_hash)
            assert group1.private_key_by_password is not None
            user_key = unwrap_user_key_with_password(
                group1.private_key_by_password, group1.id, "demo-password-42"
            )
            grant = await session.scalar(
                select(BodyKeyGrant).where(BodyKeyGrant.user_id == group1.id)
            )
            assert grant is not None
            body_key = unwrap_body_key(grant.wrapped, bodies["第一巡察组"].id, user_key)
            assert body_key.key_id == grant.body_key_id
    finally:
        await db.dispose()


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
async def test_init_twice_changes_nothing(settings: Settings) -> None:
    await initialise(settings, demo=True, today=TODAY)
    keys_before = settings.key_file.read_bytes()
    counts_before = await _counts(settings)
    again = await initialise(settings, demo=True, today=TODAY)
    assert not again.key_file_created
    assert not again.migrated
    assert not again.demo_loaded
    assert again.escrow_armour is None
    assert settings.key_file.read_bytes() == keys_before
    assert await _counts(settings) == counts_before


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
async def test_concurrent_init_loads_demo_once_and_keeps_one_key_file(settings: Settings) -> None:
    reports = await asyncio.gather(
        *(initialise(settings, demo=True, today=TODAY) for _ in range(3))
    )
    assert sum(r.key_file_created for r in reports) == 1
    assert sum(r.demo_loaded for r in reports) == 1
    assert sum(r.escrow_armour is not None for r in reports) == 1
    counts = await _counts(settings)
    assert counts["units"] == 11
    assert counts["users"] == len(USERS)
    load_server_secrets(settings.key_file)


def test_key_file_is_private(tmp_path: Path) -> None:
    from core.keyfile import create_key_file
    from crypto.escrow import generate_escrow_key
    from crypto.server_secrets import ServerSecrets

    path = tmp_path / "keys"
    secrets = ServerSecrets.generate(generate_escrow_key().public)
    assert create_key_file(path, secrets) is True
    assert path.stat().st_mode & 0o777 == 0o600
    assert create_key_file(path, ServerSecrets.generate(generate_escrow_key().public)) is False
    assert load_server_secrets(path) == secrets
