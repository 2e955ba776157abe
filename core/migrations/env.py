"""Alembic environment.

`core.schema.migrate` passes an open connection in ``config.attributes``;
the ``alembic`` command line (used to write new revisions) builds an engine
from the configured ``XUNCHA_DATABASE_URL`` instead.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from core.models import Base

target_metadata = Base.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    from core.db import create_engine
    from core.settings import Settings

    engine = create_engine(Settings.from_env().database_url.reveal())
    async with engine.connect() as connection:
        await connection.run_sync(run_with)
        await connection.commit()
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_with(connection)
else:
    asyncio.run(run_from_settings())
