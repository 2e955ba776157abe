"""The async engine and sessions, for SQLite (default) and PostgreSQL.

SQLite runs in WAL mode with foreign keys on and a busy timeout, so the
public app, the staff app and the worker of one process can share the file.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from itertools import groupby
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_

from core import sqlite_driver
from core.errors import ConfigError
from core.models import Base

SQLITE_BUSY_TIMEOUT_MS = 10_000


def create_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            _ensure_parent_writable(Path(url.database))
        if url.get_driver_name() == "aiosqlite":
            url = url.set(drivername=f"sqlite+{sqlite_driver.DRIVER}")
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            # Sessions here always end their transaction (commit or rollback) before the
            # connection goes back, and a Connection closed mid-transaction rolls back itself;
            # the pool's extra rollback would be one more thread round trip (aiosqlite) per use.
            pool_reset_on_return=None,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    _enter_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted content is overwritten, not left in free pages for a dump to find.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _enter_wal(cursor: Any) -> None:
    """Switch the file to WAL, waiting while another connection switches it.

    On a new file, two connections that both switch at once can meet in a lock that SQLite
    resolves by failing one of them at once, without its busy timeout ("database is locked").
    The switch is then retried, within the same timeout, off the event loop's back.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        # Connect events run in SQLAlchemy's greenlet: wait without blocking the loop.
        await_(asyncio.sleep(0.02))


def _ensure_parent_writable(path: Path) -> None:
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("XUNCHA_DATA_DIR", f"cannot create {parent}: {exc.strerror}") from None
    probe = parent / ".write-test"
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ConfigError("XUNCHA_DATA_DIR", f"cannot write to {parent}: {exc.strerror}") from None


class Database:
    """Owns the engine and hands out sessions; created and disposed by an app's lifespan."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer; queueing write transactions here (instead of letting them
        # fail with SQLITE_BUSY_SNAPSHOT) keeps read-then-write units such as the audit chain
        # correct. Several instances need PostgreSQL, whose locks do this across processes.
        self._sqlite_writer = asyncio.Lock()

    @classmethod
    def from_url(cls, database_url: str) -> Database:
        return cls(create_engine(database_url))

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work that may write: commit on success, roll back on any error."""
        if self.is_postgres:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._sqlite_writer, self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work (never queued behind writers)."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


async def insert_new(session: AsyncSession, objects: Iterable[Base]) -> None:
    """INSERT new, never-flushed model instances as plain statements, in the order given.

    For the write paths every report takes (intake, audit, outbox): consecutive instances of
    one table become one executemany, and the ORM's unit of work (identity map, dependency
    sorting, per-object state) is skipped, which is most of what a submission costs the event
    loop. The instances stay transient. Only the attributes set on an instance are sent; column
    defaults fill in the rest, as at a flush.
    """

    def table_and_keys(instance: Base) -> tuple[Table, tuple[str, ...]]:
        table = instance.__table__
        assert isinstance(table, Table)  # noqa: S101 — every model here maps one table
        return table, tuple(c.key for c in table.columns if c.key in instance.__dict__)

    for (table, keys), group in groupby(objects, key=table_and_keys):
        rows = [{key: instance.__dict__[key] for key in keys} for instance in group]
        await session.execute(insert(table), rows if len(rows) > 1 else rows[0])
