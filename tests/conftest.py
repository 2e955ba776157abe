"""Shared fixtures: settings with a weakened KDF, and fresh databases on SQLite and PostgreSQL.

PostgreSQL tests run against ``XUNCHA_TEST_PG_URL`` (default: the local
server's ``test`` database as ``postgres``); each fresh database is created
for the test and dropped afterwards. With ``CI=true`` a missing server is a
failure, never a skip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from core.bootstrap import initialise
from core.runtime import Runtime
from core.settings import Settings
from crypto.argon import Argon2Params

PG_ADMIN_URL = os.environ.get(
    "XUNCHA_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"

# Fast enough for hundreds of derivations per test run; production values are in docs/adr/0002.
WEAK_KDF = Argon2Params(memory_kib=8, iterations=1, lanes=1)

BACKENDS = ["sqlite", "postgresql"]
DEMO_PASSWORD = "demo-password-42"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _pg_available() -> bool:
    engine = create_async_engine(PG_ADMIN_URL)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True
    except (OSError, Exception):
        return False
    finally:
        await engine.dispose()


@pytest.fixture
async def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the backend named by the test's ``backend`` parameter."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"
        return
    if not await _pg_available():
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {make_url(PG_ADMIN_URL).host}")
        pytest.skip("PostgreSQL is not reachable")
    name = f"xuncha_t_{secrets.token_hex(6)}"
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def make_settings(tmp_path: Path, database_url: str | None = None, **overrides: object) -> Settings:
    env = {"XUNCHA_DATA_DIR": str(tmp_path / "data"), "XUNCHA_DEMO_PASSWORD": DEMO_PASSWORD}
    if database_url is not None:
        env["XUNCHA_DATABASE_URL"] = database_url
    settings = Settings.from_env(env)
    # No registry caching in tests: a test that adds a round expects the next report to see it.
    overrides.setdefault("registry_cache_seconds", 0.0)
    return replace(settings, receipt_kdf=WEAK_KDF, password_kdf=WEAK_KDF, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, fresh_database_url: str) -> Iterator[Settings]:
    return make_settings(tmp_path, fresh_database_url)


@pytest.fixture
async def demo_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """The demo county, initialised on the test's database, opened as a running process would."""
    await initialise(settings, demo=True)
    runtime = Runtime.open(settings)
    try:
        yield runtime
    finally:
        await runtime.close()
