"""The staff queue at 100,000 cases: keyset pages against a plain indexed lookup, same run.

Seeds case metadata rows directly (no report content: the queue never decrypts), two wrapped
keys per case (the assignee and 巡察办; 1 in 100 also 县纪委, a sparse queue) and one 回避 row,
runs ANALYZE, then times ``core.access.queue_page`` for a 巡察组 member, for 巡察办 and for
县纪委: page 1, a deep page (cursor 10,000 rows in, or halfway for a shorter queue), both with
and without a status filter. Baselines: a
primary-key lookup of one case (same session overhead), and the deep page by OFFSET, which is
what keyset pagination avoids.

Run: ``.venv/bin/python bench/bench_queue.py`` (SQLite in a temporary directory), or with
``--database-url postgresql+asyncpg://USER@HOST/DB`` on an empty PostgreSQL database.
``--cases`` changes the size (default 100,000).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text

from core.access import (
    Cursor,
    QueueFilter,
    Viewer,
    queue_page,
    viewer_for,
    visible,
)
from core.bootstrap import initialise
from core.cases import Channel, Status
from core.county import now
from core.models import Body, Case, CaseKey, Recusal, Unit, User, new_id
from core.runtime import Runtime
from core.settings import Settings
from crypto.argon import Argon2Params
from routing import Destination, Discipline, ProblemType

WEAK = Argon2Params(memory_kib=8, iterations=1, lanes=1)
BATCH = 5_000
DEEP = 10_000


async def seed(runtime: Runtime, count: int) -> None:
    rng = random.Random(7)
    async with runtime.db.reading() as session:
        bodies = {
            name: body_id for body_id, name in await session.execute(select(Body.id, Body.name))
        }
        units = list(await session.scalars(select(Unit.id)))
    groups = [bodies[f"第{n}巡察组"] for n in "一二三四五"]
    office = bodies["县委巡察办"]
    commission = bodies["县纪委"]
    start = date(2025, 1, 1)
    statuses = [s.value for s in Status]
    for offset in range(0, count, BATCH):
        cases, keys = [], []
        for _ in range(min(BATCH, count - offset)):
            case_id = new_id()
            assignee = rng.choice([*groups, office])
            received = start + timedelta(days=rng.randrange(500))
            status = rng.choice(statuses)
            cases.append(
                {
                    "id": case_id,
                    "receipt_lookup": rng.randbytes(32),
                    "channel": rng.choice(list(Channel)).value,
                    "received_on": received,
                    "unit_id": rng.choice(units),
                    "categories": [rng.choice(list(Discipline)).value],
                    "primary": None,
                    "problem_type": rng.choice(list(ProblemType)).value,
                    "destination": rng.choice(list(Destination)).value,
                    "assignee_body_id": assignee,
                    "status": status,
                    "status_changed_on": received,
                    "due_on": received + timedelta(days=30) if status == "transferred" else None,
                    "blind_index": None,
                    "attachment_count": 0,
                    "size_bucket": 0,
                    "version": 1,
                }
            )
            readers = {assignee, office}
            if rng.random() < 0.01:  # about 1 in 100 is transferred to 县纪委: a sparse queue
                readers.add(commission)
            for body in readers:
                keys.append(
                    {
                        "id": new_id(),
                        "case_id": case_id,
                        "body_id": body,
                        "body_key_id": None,
                        "wrapped": b"x" * 64,
                        "created_at": now(),
                    }
                )
        async with runtime.db.transaction() as session:
            await session.execute(insert(Case), cases)
            await session.execute(insert(CaseKey), keys)


async def timed(work: Callable[[], Awaitable[object]], repeat: int) -> float:
    await work()
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


async def deep_cursor(runtime: Runtime, viewer: Viewer, status: str | None) -> tuple[Cursor, int]:
    """The cursor DEEP rows into the queue (or halfway, for a short filtered queue)."""
    query = select(Case.received_on, Case.id).where(visible(viewer))
    if status:
        query = query.where(Case.status == status)
    async with runtime.db.reading() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
        depth = min(DEEP, total // 2)
        ordered = query.order_by(Case.received_on.desc(), Case.id.desc())
        row = (await session.execute(ordered.offset(depth).limit(1))).one()
    return Cursor(row[0], row[1]), depth


async def bench_viewer(runtime: Runtime, username: str, repeat: int, lookup: float) -> None:
    async with runtime.db.reading() as session:
        user_id = await session.scalar(select(User.id).where(User.username == username))
        assert user_id is not None
        viewer = await viewer_for(session, user_id)
        total = await session.scalar(select(func.count()).select_from(Case).where(visible(viewer)))
    print(f"\n{username}: {total:,} visible cases")

    async def page(filters: QueueFilter, after: Cursor | None) -> None:
        async with runtime.db.reading() as session:
            result = await queue_page(session, viewer, filters, today=date.today(), after=after)
            assert len(result.cases) == 50

    async def by_offset(depth: int) -> None:
        query = (
            select(Case)
            .where(visible(viewer))
            .order_by(Case.received_on.desc(), Case.id.desc())
            .offset(depth)
            .limit(51)
        )
        async with runtime.db.reading() as session:
            assert len(list(await session.scalars(query))) == 51

    everything = QueueFilter()
    received = QueueFilter(statuses=(Status.RECEIVED.value,))
    deep, depth = await deep_cursor(runtime, viewer, None)
    deep_received, depth_received = await deep_cursor(runtime, viewer, "received")
    rows = [
        ("page 1", _page(page, everything, None)),
        ("page 1, status=received", _page(page, received, None)),
        (f"page at row {depth:,} (keyset)", _page(page, everything, deep)),
        (f"page at row {depth_received:,}, status=received", _page(page, received, deep_received)),
        (f"page at row {depth:,} by OFFSET (for contrast)", lambda: by_offset(depth)),
    ]
    for name, work in rows:
        seconds = await timed(work, repeat)
        print(f"  {name:<44} {seconds * 1e3:8.2f} ms {seconds / lookup:8.1f}x lookup")


def _page(
    page: Callable[[QueueFilter, Cursor | None], Awaitable[None]],
    filters: QueueFilter,
    cursor: Cursor | None,
) -> Callable[[], Awaitable[None]]:
    return lambda: page(filters, cursor)


async def main(database_url: str | None, count: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"XUNCHA_DATA_DIR": tmp, "XUNCHA_DEMO_PASSWORD": "bench-password-0001"}
        if database_url:
            env["XUNCHA_DATABASE_URL"] = database_url
        settings = replace(Settings.from_env(env), password_kdf=WEAK, receipt_kdf=WEAK)
        await initialise(settings, demo=True)
        runtime = Runtime.open(settings)
        try:
            began = time.perf_counter()
            await seed(runtime, count)
            async with runtime.db.transaction() as session:  # one 回避 row, always checked
                xcb = await session.scalar(select(User.id).where(User.username == "xcb"))
                unit = await session.scalar(select(Unit.id).limit(1))
                session.add(Recusal(user_id=xcb, unit_id=unit, created_at=now()))
            print(
                f"seeded {count:,} cases in {time.perf_counter() - began:.1f} s "
                f"({runtime.db.engine.dialect.name})"
            )
            async with runtime.db.reading() as session:
                some_id = await session.scalar(select(Case.id).limit(1))

            async def lookup() -> None:
                async with runtime.db.reading() as session:
                    assert await session.get(Case, some_id, populate_existing=True) is not None

            baseline = await timed(lookup, repeat)
            print(f"baseline: one case by primary key {baseline * 1e3:.2f} ms")
            async with runtime.db.transaction() as session:
                # Fresh statistics, as autovacuum (PostgreSQL) or `xuncha init` would leave them.
                await session.execute(text("ANALYZE"))
            for username in ("group1", "xcb", "jw"):
                await bench_viewer(runtime, username, repeat, baseline)
        finally:
            await runtime.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.cases, args.repeat))
