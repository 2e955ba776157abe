"""Two workers (two engines, as two instances would have) share one PostgreSQL outbox."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from admin.notify import MailTemplate, message_id
from admin.worker import NotificationWorker
from core.county import COUNTY_TIMEZONE
from core.models import Body, Membership, OutboxItem, User
from core.outbox import OutboxKind, enqueue
from core.runtime import Runtime
from core.settings import Settings
from tests.admin.notify_support import (
    SENDER,
    FakeClock,
    MailSink,
    announced_count,
    make_worker,
    smtp_server,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.postgres,
    pytest.mark.parametrize("fresh_database_url", ["postgresql"], indirect=True),
]

EVENTS = 60
DIRECT_MAILS = 150


async def _seed(runtime: Runtime, now: datetime) -> tuple[int, set[str]]:
    """Body events (fanned out and batched by the workers) and mails already batched."""
    expected_notices = 0
    async with runtime.db.transaction() as session:
        bodies = list(
            await session.execute(
                select(Body.id, func.count(Membership.id))
                .join(Membership, Membership.body_id == Body.id)
                .group_by(Body.id)
                .order_by(Body.id)
            )
        )
        for n in range(EVENTS):
            body_id, members = bodies[n % len(bodies)]
            payload = {"body_id": body_id, "reason": "case_received"}
            await enqueue(session, OutboxKind.NOTIFY_BODY, f"event:{n}", payload, at=now)
            expected_notices += members
        users = list(await session.scalars(select(User.id).where(User.email.is_not(None))))
        keys = set()
        for n in range(DIRECT_MAILS):
            key = f"direct:{n}"
            payload = {"user_id": users[n % len(users)], "template": "notice", "count": 1}
            await enqueue(session, OutboxKind.SEND_MAIL, key, payload, at=now)
            keys.add(message_id(key, SENDER))
    return expected_notices, keys


async def _work_until_idle(worker: NotificationWorker, clock: FakeClock) -> int:
    sent, idle = 0, 0
    while idle < 3:
        report = await worker.run_once()
        sent += report.sent
        busy = report.sent or report.notices or report.batched or report.retrying
        idle = 0 if busy else idle + 1
        clock.advance(seconds=1)
    return sent


async def test_two_workers_never_both_send_one_notification(
    demo_runtime: Runtime, settings: Settings
) -> None:
    morning = datetime.combine(
        datetime.now(COUNTY_TIMEZONE).date() + timedelta(days=1), time(9), tzinfo=COUNTY_TIMEZONE
    )
    clock = FakeClock(morning.astimezone(UTC))
    expected_notices, direct_ids = await _seed(demo_runtime, clock())
    other_instance = Runtime.open(settings)
    sink = MailSink()
    try:
        with smtp_server(sink) as port:
            one = make_worker(demo_runtime, port, clock, claim_limit=4)
            two = make_worker(other_instance, port, clock, claim_limit=4)
            sent = await asyncio.gather(_work_until_idle(one, clock), _work_until_idle(two, clock))
    finally:
        await other_instance.close()
    deliveries = sink.ids()
    assert max(deliveries.values()) == 1  # no notification was sent twice
    assert sum(sent) == len(sink.raw)
    assert min(sent) > 0  # both workers really shared the work
    assert direct_ids <= set(deliveries)  # ... and none was lost
    notices = [m for m in sink.messages if str(m["Message-ID"]) not in direct_ids]
    assert sum(announced_count(m) for m in notices) == expected_notices
    async with demo_runtime.db.reading() as session:
        unfinished = await session.execute(
            select(OutboxItem.kind, func.count())
            .where(OutboxItem.status.not_in(["done", "skipped"]))
            .group_by(OutboxItem.kind)
        )
        statuses = Counter(dict(unfinished.all()))
        digest_runs = await session.scalar(
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.kind == OutboxKind.DIGEST_RUN.value)
        )
    assert statuses == Counter()  # everything done
    assert digest_runs == 1  # both reached 09:00; one digest was written
    assert MailTemplate.NOTICE.value == "notice"
