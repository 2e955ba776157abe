"""SQLite connection set-up in core/db.py: WAL, even when another connection holds a lock."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import Database, create_engine

pytestmark = pytest.mark.anyio


async def test_wal_switch_waits_for_a_writer_that_holds_the_new_file(tmp_path: Path) -> None:
    # A writer that holds RESERVED on a file still in rollback-journal mode makes SQLite fail
    # the switch to WAL at once, without the busy timeout (as two first connections can).
    path = tmp_path / "x.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    plain = sqlite3.connect(path, timeout=10)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        plain.execute("PRAGMA journal_mode=WAL")
    plain.close()

    asyncio.get_running_loop().call_later(0.2, writer.execute, "COMMIT")
    database = Database(create_engine(f"sqlite+aiosqlite:///{path}"))
    try:
        async with database.reading() as session:
            mode = (await session.execute(text("PRAGMA journal_mode"))).scalar_one()
            rows = (await session.execute(text("SELECT count(*) FROM t"))).scalar_one()
    finally:
        await database.dispose()
        writer.close()
    assert (mode, rows) == ("wal", 1)
