"""The daily deadline digest: 7 days away, due today, overdue — once a day, one mail per user."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, update

from core.cases import Accused, Channel, NewReport, Status
from core.county import COUNTY_TIMEZONE, body_by_name
from core.models import Case, OutboxItem, Transfer
from core.outbox import OutboxKind
from core.runtime import Runtime
from intake.pipeline import IntakePipeline
from tests.admin.notify_support import FakeClock, MailSink, announced_count, make_worker
from tests.admin.notify_support import smtp_server as serving
from tests.conftest import BACKENDS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

REPORT = NewReport(
    channel=Channel.WEB,
    text="县教育局基建股股长王某某收受工程老板红包两万元，帮其拿到学校食堂改造工程。",
    accused=Accused(name="王某某", unit="县教育局", position="基建股股长"),
)
DIGEST_SUBJECT = "巡察信访举报受理系统：办理期限提醒"
NOTICE_SUBJECT = "巡察信访举报受理系统：有新的待办事项"


def _county_morning(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=COUNTY_TIMEZONE).astimezone(UTC)


async def _cases_due(runtime: Runtime, today: date) -> list[str]:
    """Five cases of 第一巡察组 with due dates around ``today``, one 移交 to 县纪委."""
    pipeline = IntakePipeline(runtime)
    for _ in range(5):
        await pipeline.submit(REPORT)
    async with runtime.db.transaction() as session:
        case_ids = list(await session.scalars(select(Case.id).order_by(Case.id)))
        plan = [
            (today + timedelta(days=7), Status.TRIAGED),  # a week ahead: reminded
            (today, Status.TRIAGED),  # due today: reminded
            (today - timedelta(days=3), Status.RECEIVED),  # overdue: reminded
            (today + timedelta(days=3), Status.TRANSFERRED),  # not yet
            (today - timedelta(days=1), Status.CLOSED),  # closed: never
        ]
        for case_id, (due, status) in zip(case_ids, plan, strict=True):
            await session.execute(
                update(Case).where(Case.id == case_id).values(due_on=due, status=status.value)
            )
        commission = await body_by_name(session, "县纪委")
        moment = datetime.now(UTC)
        for case_id, feedback in ((case_ids[3], None), (case_ids[0], today)):
            session.add(
                Transfer(
                    case_id=case_id,
                    destination_body_id=commission.id,
                    proposed_at=moment,
                    decision="approved",
                    decided_at=moment,
                    due_on=today - timedelta(days=2),  # feedback overdue, unless it came
                    feedback_on=feedback,
                )
            )
    return case_ids


async def test_one_digest_a_day_counts_each_users_deadlines(demo_runtime: Runtime) -> None:
    today = datetime.now(COUNTY_TIMEZONE).date() + timedelta(days=1)
    await _cases_due(demo_runtime, today)
    sink, clock = MailSink(), FakeClock(_county_morning(today, 7))
    with serving(sink) as port:
        worker = make_worker(demo_runtime, port, clock)
        assert (await worker.run_once()).digests is None  # before 08:00
        assert [m["Subject"] for m in sink.messages] == [NOTICE_SUBJECT]  # the 5 new cases
        del sink.raw[:]
        clock.now = _county_morning(today, 9)
        report = await worker.run_once()
        assert (report.digests, report.sent) == (3, 3)
        assert (await worker.run_once()).digests is None  # once a day, however many ticks
        first = {m["To"]: announced_count(m) for m in sink.messages}
        # Tomorrow the week-ahead case is 6 days away and drops out; today's is overdue.
        clock.now = _county_morning(today + timedelta(days=1), 8)
        assert (await worker.run_once()).sent == 3
    second = {m["To"]: announced_count(m) for m in sink.messages[3:]}
    assert first == {"group1@xuncha.local": 3, "jw@xuncha.local": 1, "xcb@xuncha.local": 1}
    assert second == {"group1@xuncha.local": 2, "jw@xuncha.local": 1, "xcb@xuncha.local": 1}
    assert {m["Subject"] for m in sink.messages} == {DIGEST_SUBJECT}
    everything = b"".join(sink.raw).decode("utf-8", "replace")
    for leak in ("王某某", "县教育局", "县纪委", "移交", "逾期3天"):
        assert leak not in everything
    async with demo_runtime.db.reading() as session:
        runs = await session.scalar(
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.kind == OutboxKind.DIGEST_RUN.value)
        )
    assert runs == 2
