"""The router's registry is reused for a short time, then re-read."""

from __future__ import annotations

import pytest

from core.county import UnitKind, add_unit
from core.registry_store import RegistryCache
from core.runtime import Runtime

pytestmark = pytest.mark.anyio


async def _add_unit(runtime: Runtime, name: str) -> None:
    async with runtime.db.transaction() as session:
        await add_unit(session, name, UnitKind.OTHER)


async def test_cached_registry_is_reused_until_invalidated(demo_runtime: Runtime) -> None:
    cache = RegistryCache(ttl=3600)
    first = await cache.get(demo_runtime.db)
    await _add_unit(demo_runtime, "县统计局")
    assert await cache.get(demo_runtime.db) is first
    cache.invalidate()
    assert "县统计局" in {u.name for u in (await cache.get(demo_runtime.db)).units}


async def test_zero_ttl_always_reads(demo_runtime: Runtime) -> None:
    cache = RegistryCache(ttl=0)
    await cache.get(demo_runtime.db)
    await _add_unit(demo_runtime, "县审计局")
    assert "县审计局" in {u.name for u in (await cache.get(demo_runtime.db)).units}
