"""Create or migrate the schema to the newest Alembic revision.

Several instances may start at once against one database: PostgreSQL
serialises them with an advisory lock, SQLite with a file lock beside the
database, so exactly one runs the migrations and the others find them done.
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db import Database

MIGRATIONS = Path(__file__).with_name("migrations")
# An arbitrary constant naming "schema and seed data" among PostgreSQL advisory locks.
INIT_LOCK_KEY = 0x58554E4348410001


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


@asynccontextmanager
async def init_lock(db: Database, lock_dir: Path) -> AsyncIterator[AsyncConnection]:
    """Hold the installation-wide init lock; yields a connection for the migration."""
    async with db.engine.connect() as connection:
        if db.is_postgres:
            await connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": INIT_LOCK_KEY})
            await connection.commit()
            try:
                yield connection
            finally:
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:k)"), {"k": INIT_LOCK_KEY}
                )
                await connection.commit()
        else:
            lock_dir.mkdir(parents=True, exist_ok=True)
            with (lock_dir / ".init.lock").open("w") as handle:
                # Waited for in a thread: a blocking flock would stall the event loop.
                await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
                try:
                    yield connection
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)


async def migrate(connection: AsyncConnection) -> bool:
    """Upgrade to head; return True when anything was applied."""
    before = await connection.run_sync(current_revision)
    if before == head_revision():
        return False
    await connection.run_sync(_upgrade)
    await connection.commit()
    return True
