"""The notification worker against a real SMTP server on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import delete, func, select, update

from admin.mailer import MailConnection, Mailer
from admin.worker import NotificationWorker, WorkerConfig
from core.cases import Accused, Channel, NewReport
from core.county import body_by_name
from core.models import Body, Membership, OutboxItem, User
from core.outbox import OutboxKind, enqueue, failed_notifications, requeue_failed
from core.runtime import Runtime
from intake.pipeline import IntakePipeline
from tests.admin.notify_support import (
    SENDER,
    STAFF_URL,
    FakeClock,
    MailSink,
    announced_count,
    drain,
    free_port,
    make_worker,
    smtp_server,
)
from tests.conftest import BACKENDS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

GROUP1 = "第一巡察组"
GROUP2 = "第二巡察组"


def _start() -> FakeClock:
    # Ahead of the real time at which the pipeline stamps its outbox rows.
    return FakeClock(datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5))


async def _body_id(runtime: Runtime, name: str) -> str:
    async with runtime.db.reading() as session:
        body = await body_by_name(session, name)
        return body.id


async def _notify(
    runtime: Runtime, clock: FakeClock, body: str, key: str, reason: str = "case_received"
) -> None:
    """What the pipeline and the console write (in their own transactions), at the clock's now."""
    body_id = await _body_id(runtime, body)
    async with runtime.db.transaction() as session:
        payload = {"body_id": body_id, "reason": reason}
        await enqueue(session, OutboxKind.NOTIFY_BODY, key, payload, at=clock())


async def _statuses(runtime: Runtime, kind: OutboxKind) -> dict[str, int]:
    async with runtime.db.reading() as session:
        rows = await session.execute(
            select(OutboxItem.status, func.count())
            .where(OutboxItem.kind == kind.value)
            .group_by(OutboxItem.status)
        )
        return dict(rows.all())


async def _member_count(runtime: Runtime, body: str) -> int:
    async with runtime.db.reading() as session:
        return (
            await session.scalar(
                select(func.count())
                .select_from(Membership)
                .join(Body, Body.id == Membership.body_id)
                .where(Body.name == body)
            )
            or 0
        )


CANARY = "金丝雀7Q3ZK"


async def test_a_canary_in_a_report_appears_in_no_mail(demo_runtime: Runtime) -> None:
    pipeline = IntakePipeline(demo_runtime)
    report = NewReport(
        channel=Channel.WEB,
        text=f"县教育局基建股股长王某某收受工程老板红包两万元{CANARY}，帮其拿到学校食堂改造工程。",
        accused=Accused(name=f"王{CANARY}", unit="县教育局", position=f"股长{CANARY}"),
        contact=f"联系{CANARY}",
    )
    receipt = await pipeline.submit(report)
    await pipeline.add_reporter_message(receipt, f"补充：还有一笔钱{CANARY}。")
    sink, clock = MailSink(), _start()
    with smtp_server(sink) as port:
        await drain(make_worker(demo_runtime, port, clock), clock)
    assert len(sink.raw) == 1  # group1: both events in one batch
    (mail,) = sink.messages
    assert mail["To"] == "group1@xuncha.local"
    assert mail["From"] == SENDER
    assert announced_count(mail) == 2
    assert STAFF_URL in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    everything = b"".join(sink.raw).decode("utf-8", "replace")
    decoded = str(mail) + str(mail["Subject"])
    for leak in (CANARY, "王某某", "县教育局", "基建股", "廉洁", "红包", receipt):
        assert leak not in everything
        assert leak not in decoded
    async with demo_runtime.db.reading() as session:
        for payload, error in await session.execute(
            select(OutboxItem.payload, OutboxItem.last_error)
        ):
            assert CANARY not in f"{payload}{error}"


async def test_several_events_in_the_window_make_one_mail(demo_runtime: Runtime) -> None:
    sink, clock = MailSink(), _start()
    with smtp_server(sink) as port:
        worker = make_worker(demo_runtime, port, clock, batch_seconds=600)
        for n in range(3):
            await _notify(demo_runtime, clock, GROUP1, f"event:{n}", "case_received")
        await _notify(demo_runtime, clock, GROUP1, "event:message", "reporter_message")
        clock.advance(minutes=5)
        assert (await worker.run_once()).sent == 0
        await _notify(demo_runtime, clock, GROUP1, "event:late", "feedback_received")
        clock.advance(minutes=6)
        assert (await worker.run_once()).sent == 1
        assert [announced_count(m) for m in sink.messages] == [5]
        # The next event opens a new window: no mail until it closes.
        await _notify(demo_runtime, clock, GROUP1, "event:next")
        clock.advance(minutes=9)
        assert (await worker.run_once()).sent == 0
        clock.advance(minutes=2)
        assert (await worker.run_once()).sent == 1
    assert [announced_count(m) for m in sink.messages] == [5, 1]
    assert len({m["Message-ID"] for m in sink.messages}) == 2
    assert {m["Subject"] for m in sink.messages} == {"巡察信访举报受理系统：有新的待办事项"}


async def test_smtp_down_then_up_delivers_everything(demo_runtime: Runtime) -> None:
    sink, clock, port = MailSink(), _start(), free_port()
    bodies = [GROUP1, GROUP2, "县纪委", "县委巡察办"]
    expected = 0
    for n in range(24):
        body = bodies[n % len(bodies)]
        await _notify(demo_runtime, clock, body, f"down:{n}")
        expected += await _member_count(demo_runtime, body)
    worker = make_worker(demo_runtime, port, clock, claim_limit=3)
    first = await worker.run_once()  # nothing listens: every claimed mail waits for a retry
    assert first.sent == 0
    assert first.retrying == 3
    for _ in range(6):  # three hours of an outage
        clock.advance(minutes=30)
        assert (await worker.run_once()).sent == 0
    assert (await _statuses(demo_runtime, OutboxKind.SEND_MAIL)).get("failed") is None
    with smtp_server(sink, port):
        clock.advance(hours=1)
        total = await drain(worker, clock)
    assert total.failed == 0
    assert sum(announced_count(m) for m in sink.messages) == expected
    assert max(sink.ids().values()) == 1
    assert await _statuses(demo_runtime, OutboxKind.SEND_MAIL) == {"done": len(sink.raw)}


async def test_a_permanent_refusal_ends_failed_and_is_listed(demo_runtime: Runtime) -> None:
    sink, clock = MailSink(), _start()
    sink.refuse["group2@xuncha.local"] = "550 5.1.1 mailbox unavailable"
    await _notify(demo_runtime, clock, GROUP1, "ok:1")
    await _notify(demo_runtime, clock, GROUP2, "refused:1")
    with smtp_server(sink) as port:
        total = await drain(make_worker(demo_runtime, port, clock), clock)
        assert (total.sent, total.failed, total.retrying) == (1, 1, 0)
        assert list(sink.by_recipient()) == ["group1@xuncha.local"]
        async with demo_runtime.db.reading() as session:
            (failed,) = await failed_notifications(session)
        assert failed.username == "group2"
        assert failed.attempts == 1
        assert failed.last_error is not None
        assert "550" in failed.last_error
        assert "recipient" in failed.last_error
        # Once the cause is fixed, 巡察办 can send it again.
        del sink.refuse["group2@xuncha.local"]
        async with demo_runtime.db.transaction() as session:
            assert await requeue_failed(session, [failed.id], clock()) == 1
        assert (await drain(make_worker(demo_runtime, port, clock), clock)).sent == 1
    assert sorted(sink.by_recipient()) == ["group1@xuncha.local", "group2@xuncha.local"]
    async with demo_runtime.db.reading() as session:
        assert await failed_notifications(session) == []


async def test_retries_with_backoff_for_48_hours_then_fails(demo_runtime: Runtime) -> None:
    clock, port = _start(), free_port()
    await _notify(demo_runtime, clock, GROUP1, "never")
    worker = make_worker(demo_runtime, port, clock)
    gaps: list[timedelta] = []
    while True:
        report = await worker.run_once()
        assert report.sent == 0
        if report.failed:
            break
        async with demo_runtime.db.reading() as session:
            item = await session.scalar(
                select(OutboxItem).where(OutboxItem.kind == OutboxKind.SEND_MAIL.value)
            )
        assert item is not None
        assert item.status == "pending"
        due = item.next_attempt_at.replace(tzinfo=UTC)
        gaps.append(due - clock())
        clock.now = due
    async with demo_runtime.db.reading() as session:
        (failed,) = await failed_notifications(session)
    assert failed.username == "group1"
    assert failed.last_error is not None
    assert "connection refused" in failed.last_error
    assert failed.failed_at is not None
    assert timedelta(hours=48) <= failed.failed_at - failed.created_at < timedelta(hours=49)
    assert gaps[0] < timedelta(seconds=31)  # 30 s, jittered down to half at most
    assert gaps[1] > gaps[0]  # it backs off
    assert max(gaps) <= timedelta(hours=1)  # capped, so the relay is retried hourly
    # Once at the 1 h cap, each wait is 30–60 min (equal jitter): 48–96 tries, plus the ramp.
    assert 48 < len(gaps) < 104


async def test_a_disabled_user_gets_nothing(demo_runtime: Runtime) -> None:
    sink, clock = MailSink(), _start()
    await _notify(demo_runtime, clock, GROUP1, "before-disable")
    with smtp_server(sink) as port:
        worker = make_worker(demo_runtime, port, clock, batch_seconds=600)
        await worker.run_once()  # fanned out and batched for group1 ...
        async with demo_runtime.db.transaction() as session:
            await session.execute(
                update(User).where(User.username == "group1").values(disabled_at=clock())
            )
        clock.advance(minutes=11)
        total = await drain(worker, clock)  # ... who is disabled before the mail goes
        assert (total.sent, total.skipped) == (0, 1)
        await _notify(demo_runtime, clock, GROUP1, "after-disable")
        clock.advance(minutes=11)
        assert (await drain(worker, clock)).batched == 0  # no notice for a disabled member
    assert sink.raw == []


def pausing(inner: Mailer) -> tuple[Mailer, asyncio.Event]:
    """The real mailer, but the worker hangs right after the relay accepted a mail."""
    sent = asyncio.Event()

    class PausingConnection(MailConnection):
        async def send(self, message: EmailMessage) -> None:
            await super().send(message)
            sent.set()
            await asyncio.Event().wait()  # killed here: sent, not yet marked

    class PausingMailer(Mailer):
        connection_type = PausingConnection

    return PausingMailer(inner.config), sent


async def test_a_crash_between_send_and_mark_gives_one_duplicate(demo_runtime: Runtime) -> None:
    sink, clock = MailSink(), _start()
    await _notify(demo_runtime, clock, GROUP1, "crash")
    with smtp_server(sink) as port:
        real = make_worker(demo_runtime, port, clock)
        mailer, sent = pausing(real.mailer)
        doomed = NotificationWorker(demo_runtime, mailer, real.config, clock=clock)
        task = asyncio.ensure_future(doomed.run_once())
        await asyncio.wait_for(sent.wait(), timeout=10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(sink.raw) == 1
        assert await _statuses(demo_runtime, OutboxKind.SEND_MAIL) == {"claimed": 1}
        # Another worker leaves the mail alone while the lease runs ...
        clock.advance(minutes=14)
        assert (await real.run_once()).sent == 0
        # ... and sends it once more when it runs out: one duplicate, same Message-ID.
        clock.advance(minutes=2)
        assert (await drain(real, clock)).sent == 1
        assert (await drain(real, clock)).sent == 0
    assert list(sink.ids().values()) == [2]
    assert await _statuses(demo_runtime, OutboxKind.SEND_MAIL) == {"done": 1}


async def test_without_smtp_the_outbox_is_kept(demo_runtime: Runtime) -> None:
    from admin.worker import notification_services

    assert demo_runtime.settings.smtp_url is None
    assert notification_services(demo_runtime, asyncio.Event()) == []
    await IntakePipeline(demo_runtime).submit(
        NewReport(channel=Channel.WEB, text="青山镇某干部在扶贫资金发放中优亲厚友。")
    )
    assert await _statuses(demo_runtime, OutboxKind.NOTIFY_BODY) == {"pending": 1}


async def test_the_worker_stops_promptly_mid_send(demo_runtime: Runtime) -> None:
    sink, clock = MailSink(), _start()
    await _notify(demo_runtime, clock, GROUP1, "stop")
    with smtp_server(sink) as port:
        real = make_worker(demo_runtime, port, clock)
        mailer, sent = pausing(real.mailer)
        config = WorkerConfig(
            staff_url=STAFF_URL,
            sender=SENDER,
            batch_window=timedelta(0),
            stop_grace_seconds=0.5,
        )
        worker = NotificationWorker(demo_runtime, mailer, config, clock=clock)
        stop = asyncio.Event()
        running = asyncio.ensure_future(worker.run(stop))
        await asyncio.wait_for(sent.wait(), timeout=10)
        stop.set()
        await asyncio.wait_for(running, timeout=2)
    assert len(sink.raw) == 1


async def test_members_recused_from_the_case_are_not_told(demo_runtime: Runtime) -> None:
    from core.models import Case, Recusal

    await IntakePipeline(demo_runtime).submit(
        NewReport(
            channel=Channel.WEB,
            text="县教育局基建股股长王某某收受工程老板红包两万元。",
            accused=Accused(name="王某某", unit="县教育局", position="基建股股长"),
        )
    )
    clock = _start()
    async with demo_runtime.db.transaction() as session:
        case = await session.scalar(select(Case))
        group1 = await session.scalar(select(User).where(User.username == "group1"))
        assert case is not None
        assert group1 is not None
        session.add(Recusal(user_id=group1.id, unit_id=case.unit_id, created_at=clock()))
        await session.execute(delete(OutboxItem))  # only the two events below count here
        payload = {"body_id": case.assignee_body_id, "reason": "transfer_approved"}
        await enqueue(session, OutboxKind.NOTIFY_BODY, "no-case", payload, at=clock())
        await enqueue(
            session,
            OutboxKind.NOTIFY_BODY,
            "with-case",
            {**payload, "case_id": case.id},
            at=clock(),
        )
        # The same key again (a retried request) queues nothing more.
        assert await enqueue(session, OutboxKind.NOTIFY_BODY, "with-case", payload) is None
    sink = MailSink()
    with smtp_server(sink) as port:
        await drain(make_worker(demo_runtime, port, clock), clock)
    # The event without a case reaches group1; the one naming the case he is recused from
    # reaches no one (he is 第一巡察组's only member).
    assert [announced_count(m) for m in sink.messages] == [1]
    assert await _statuses(demo_runtime, OutboxKind.NOTIFY_BODY) == {"done": 1, "skipped": 1}


async def test_an_undeliverable_address_fails_alone(demo_runtime: Runtime) -> None:
    sink, clock = MailSink(), _start()
    async with demo_runtime.db.transaction() as session:
        await session.execute(
            update(User).where(User.username == "group2").values(email="group2@xuncha\r\nBcc: x")
        )
    await _notify(demo_runtime, clock, GROUP2, "bad-address")
    await _notify(demo_runtime, clock, GROUP1, "good-address")
    with smtp_server(sink) as port:
        total = await drain(make_worker(demo_runtime, port, clock), clock)
    assert (total.sent, total.failed) == (1, 1)
    assert list(sink.by_recipient()) == ["group1@xuncha.local"]
    async with demo_runtime.db.reading() as session:
        (failed,) = await failed_notifications(session)
    assert failed.username == "group2"
    assert failed.last_error is not None
    assert failed.last_error.startswith("recipient:")


async def test_a_backlog_goes_out_without_waiting_for_the_poll(demo_runtime: Runtime) -> None:
    sink, clock = MailSink(), _start()
    async with demo_runtime.db.transaction() as session:
        group1 = await session.scalar(select(User.id).where(User.username == "group1"))
        for n in range(45):
            payload = {"user_id": group1, "template": "notice", "count": 1}
            await enqueue(session, OutboxKind.SEND_MAIL, f"backlog:{n}", payload, at=clock())
    with smtp_server(sink) as port:
        worker = make_worker(demo_runtime, port, clock, claim_limit=10, poll_seconds=60)
        stop = asyncio.Event()
        running = asyncio.ensure_future(worker.run(stop))
        try:
            async with asyncio.timeout(30):  # far less than the 4 polls a minute apart
                while len(sink.raw) < 45:
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=5)
    assert len(sink.ids()) == 45
