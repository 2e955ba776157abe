"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from core.db import Database
from core.models import Base
from core.schema import current_revision, head_revision, init_lock, migrate
from tests.conftest import BACKENDS

pytestmark = pytest.mark.anyio


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
async def test_models_match_migration_head(fresh_database_url: str, tmp_path: Path) -> None:
    db = Database.from_url(fresh_database_url)
    try:
        async with init_lock(db, tmp_path) as connection:
            assert await migrate(connection) is True
            assert await migrate(connection) is False
        async with db.engine.connect() as connection:
            assert await connection.run_sync(current_revision) == head_revision()
            assert await connection.run_sync(_diff) == []
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"cases", "case_fields", "case_keys", "events", "outbox", "blob_chunks"} <= tables
    finally:
        await db.dispose()
