"""The SQLite dialect with one thread round trip per statement (core/sqlite_driver.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core.db import Database, create_engine
from core.sqlite_driver import DRIVER

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"))
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every function sent to an aiosqlite connection thread, by name."""
    sent: list[str] = []
    original = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return sent


async def test_standard_sqlite_urls_use_the_one_trip_dialect(db: Database) -> None:
    assert db.engine.dialect.driver == DRIVER
    assert db.engine.dialect.is_async


async def test_results_rowcounts_and_last_row_id(db: Database) -> None:
    async with db.transaction() as session:
        many = await session.execute(
            text("INSERT INTO t (name) VALUES (:name)"), [{"name": n} for n in "abc"]
        )
        assert many.rowcount == 3  # type: ignore[attr-defined]
        one = await session.execute(text("INSERT INTO t (name) VALUES ('d')"))
        assert one.lastrowid == 4  # type: ignore[attr-defined]
        updated = await session.execute(text("UPDATE t SET name = name || '!' WHERE id > 2"))
        assert updated.rowcount == 2  # type: ignore[attr-defined]
    async with db.reading() as session:
        rows = (await session.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c!"), (4, "d!")]
        assert (await session.execute(text("SELECT name FROM t WHERE id = 99"))).first() is None
        result = await session.execute(text("SELECT id AS number FROM t WHERE id = 1"))
        assert list(result.keys()) == ["number"]


async def test_a_statement_costs_one_trip_and_a_read_only_commit_none(
    db: Database, trips: list[str]
) -> None:
    async with db.reading() as session:
        await session.execute(text("SELECT count(*) FROM t"))
    assert trips == ["_run"]

    trips.clear()
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t (name) VALUES ('x')"))
        await session.execute(text("SELECT name FROM t"))
    # Two statements, then the commit that the write needs.
    assert trips == ["_run", "_run", "commit"]


async def test_errors_surface_as_sqlalchemy_errors_and_roll_back(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t (name) VALUES ('same')"))

    async def clash() -> None:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t (name) VALUES ('kept out')"))
            await session.execute(text("INSERT INTO t (name) VALUES ('same')"))

    with pytest.raises(IntegrityError):
        await clash()
    async with db.reading() as session:
        names = (await session.execute(text("SELECT name FROM t"))).scalars().all()
    assert names == ["same"]


async def test_an_explicit_rollback_discards_the_write(db: Database, trips: list[str]) -> None:
    async with db.sessions() as session:
        await session.execute(text("INSERT INTO t (name) VALUES ('gone')"))
        await session.rollback()
    assert trips == ["_run", "rollback"]
    async with db.reading() as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 0
