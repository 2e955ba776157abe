"""Staff notifications: who hears of what, batched per user, and the daily deadline digest.

Everything here is content-free by construction. What the outbox carries is a
body id, a reason and (optionally) a case id; what a mail says is a number and
the staff console's address. No report text, name, unit, category or
per-category count is ever read here, so none can leak into a mail — a mail
goes through the recipient's mail provider, outside the system's protection.

The path of a notification, each step one transaction (exactly once):

1. ``notify_body`` {"body_id", "reason", "case_id"?} — written by the change
   that causes it (intake pipeline, staff console) — fans out to one
   ``notify_user`` per member who can receive mail (active, with an address,
   not recused from the case when the payload names one).
2. ``notify_user`` {"user_id", "reason"} rows wait for the batch window
   (``XUNCHA_NOTIFY_BATCH_SECONDS`` after the oldest one's event); then all of
   a user's waiting rows become one ``send_mail``, so several events in the
   window make one mail and mail timing says little.
3. ``send_mail`` rows are claimed and sent by `admin.worker` (the only step
   with a side effect outside the database).

The digest: once a day (08:00 county time or later) every open case whose due
date is 7 days away, today or past (`routing.deadline_status`) counts for the
members of its assignee body; an approved transfer still waiting for feedback
counts for the destination body and for 巡察办. One ``send_mail`` per user.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.cases import Status
from core.county import BodyKind
from core.models import Body, Case, Membership, Recusal, Transfer, User, as_utc
from core.outbox import OutboxKind, OutboxStatus, enqueue, finish, take_due, take_pending
from routing.deadlines import deadline_status

REMIND_DAYS_AHEAD = 7
OPEN_STATUSES = (Status.RECEIVED, Status.TRIAGED, Status.TRANSFER_PROPOSED, Status.TRANSFERRED)
NOTICE_SCAN_LIMIT = 1000


class MailTemplate(StrEnum):
    NOTICE = "notice"
    DIGEST = "digest"


SUBJECTS = {
    MailTemplate.NOTICE: "巡察信访举报受理系统：有新的待办事项",
    MailTemplate.DIGEST: "巡察信访举报受理系统：办理期限提醒",
}

_LEADS = {
    MailTemplate.NOTICE: "您有 {count} 项新的待办事项。",
    MailTemplate.DIGEST: "您有 {count} 项事项的办理期限将在7日后到期、今日到期或已逾期。",
}

_FOOTER = (
    "为保护举报人和案件信息，本邮件不包含任何举报内容，请登录后查看。\n"
    "此邮件由系统自动发送，请勿回复。"
)


def compose_mail(
    template: MailTemplate,
    *,
    count: int,
    recipient: str,
    sender: str,
    staff_url: str,
    idempotency_key: str,
    sent_at: datetime,
) -> EmailMessage:
    """The whole of what a staff member's mailbox learns: a number and a link.

    The Message-ID is derived from the outbox idempotency key, so a mail sent
    twice after a crash carries the same id and mail clients fold the two.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = SUBJECTS[template]
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id(idempotency_key, sender)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to us
    message["Content-Language"] = "zh-CN"
    lead = _LEADS[template].format(count=count)
    message.set_content(f"您好：\n\n{lead}\n请登录工作台查看：{staff_url}\n\n{_FOOTER}\n")
    return message


def message_id(idempotency_key: str, sender: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{sender.rpartition('@')[2]}>"


# --- 1. fan-out -------------------------------------------------------------------------


async def recipients_of_body(
    session: AsyncSession, body_id: str, case_id: str | None = None
) -> list[str]:
    """Ids of a body's members who can get mail; recused members skip that case."""
    query = (
        select(User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.body_id == body_id, User.disabled_at.is_(None), User.email.is_not(None))
        .where(User.email != "")
        .order_by(User.id)
    )
    user_ids = list(await session.scalars(query))
    if case_id is None or not user_ids:
        return user_ids
    case = await session.get(Case, case_id)
    if case is None:
        return user_ids
    # Even "one item waits" would tell a recused member that their unit or person is reported.
    recusal = Recusal.user_id.in_(user_ids) & (
        (Recusal.unit_id == case.unit_id) | (Recusal.person_index == case.blind_index)
    )
    recused = set(await session.scalars(select(Recusal.user_id).where(recusal)))
    return [u for u in user_ids if u not in recused]


async def fan_out(session: AsyncSession, now: datetime, *, limit: int = 100) -> int:
    """Turn due body events into per-user notices; returns how many notices were written."""
    written = 0
    for event in await take_due(session, OutboxKind.NOTIFY_BODY, now, limit=limit):
        payload: dict[str, Any] = event.payload
        body_id = payload.get("body_id")
        case_id = payload.get("case_id")
        members = (
            await recipients_of_body(session, str(body_id), str(case_id) if case_id else None)
            if body_id
            else []
        )
        event_at = as_utc(event.created_at)
        for user_id in members:
            notice = await enqueue(
                session,
                OutboxKind.NOTIFY_USER,
                f"notice:{event.id}:{user_id}",
                {"user_id": user_id, "reason": payload.get("reason")},
                at=event_at,  # the batch window runs from the event, not from this tick
            )
            written += notice is not None
        finish(event, now, OutboxStatus.DONE if members else OutboxStatus.SKIPPED)
    return written


# --- 2. batching ------------------------------------------------------------------------


async def batch_notices(session: AsyncSession, now: datetime, window: timedelta) -> int:
    """One ``send_mail`` per user whose oldest waiting notice is older than the window.

    Returns how many mails were written. A ``notify_user`` row written directly
    (by code that already knows the user) is batched the same way.
    """
    by_user: dict[str, list[Any]] = defaultdict(list)
    for notice in await take_pending(session, OutboxKind.NOTIFY_USER, limit=NOTICE_SCAN_LIMIT):
        by_user[str(notice.payload.get("user_id"))].append(notice)
    mails = 0
    for user_id, notices in by_user.items():
        oldest = min(notices, key=lambda n: (as_utc(n.created_at), n.id))
        if as_utc(oldest.created_at) + window > now:
            continue  # still inside this user's window: more may join the batch
        await enqueue(
            session,
            OutboxKind.SEND_MAIL,
            f"mail:{user_id}:{oldest.id}",
            {"user_id": user_id, "template": MailTemplate.NOTICE.value, "count": len(notices)},
            at=now,
        )
        for notice in notices:
            finish(notice, now)
        mails += 1
    return mails


# --- the daily deadline digest -----------------------------------------------------------


def deadline_reminder_due(due: date, today: date) -> bool:
    """7 days away, due today, or overdue."""
    status = deadline_status(due, today)
    return status.overdue or status.days_left in (0, REMIND_DAYS_AHEAD)


async def _members_by_body(session: AsyncSession, body_ids: Iterable[str]) -> dict[str, set[str]]:
    members: dict[str, set[str]] = defaultdict(set)
    rows = await session.execute(
        select(Membership.body_id, User.id)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.body_id.in_(list(body_ids)),
            User.disabled_at.is_(None),
            User.email.is_not(None),
            User.email != "",
        )
    )
    for body_id, user_id in rows:
        members[body_id].add(user_id)
    return members


async def deadline_items_by_body(session: AsyncSession, today: date) -> dict[str, set[str]]:
    """Body id → ids of the cases with a deadline to remind of today."""
    open_statuses = [s.value for s in OPEN_STATUSES]
    items: dict[str, set[str]] = defaultdict(set)
    cases = await session.execute(
        select(Case.id, Case.assignee_body_id, Case.due_on).where(
            Case.due_on.is_not(None), Case.status.in_(open_statuses)
        )
    )
    for case_id, body_id, due_on in cases:
        if due_on is not None and deadline_reminder_due(due_on, today):
            items[body_id].add(case_id)
    office_ids = list(await session.scalars(select(Body.id).where(Body.kind == BodyKind.OFFICE)))
    transfers = await session.execute(
        select(Transfer.case_id, Transfer.destination_body_id, Transfer.due_on)
        .join(Case, Case.id == Transfer.case_id)
        .where(
            Transfer.due_on.is_not(None),
            Transfer.feedback_on.is_(None),
            Case.status.in_(open_statuses),
        )
    )
    for case_id, body_id, due_on in transfers:
        if due_on is not None and deadline_reminder_due(due_on, today):
            # 第十九条 feedback: the destination owes it, 巡察办 follows it up.
            for reader in (body_id, *office_ids):
                items[reader].add(case_id)
    return items


async def digest_counts(session: AsyncSession, today: date) -> dict[str, int]:
    """User id → number of distinct cases to remind them of (a case counts once per user)."""
    by_body = await deadline_items_by_body(session, today)
    members = await _members_by_body(session, by_body)
    per_user: dict[str, set[str]] = defaultdict(set)
    for body_id, case_ids in by_body.items():
        for user_id in members.get(body_id, ()):
            per_user[user_id] |= case_ids
    return {user_id: len(case_ids) for user_id, case_ids in per_user.items()}


async def write_digest(session: AsyncSession, today: date, now: datetime) -> int | None:
    """Write today's digest mails once; None when today's digest was already written.

    The day's marker row has a unique idempotency key: two workers that race
    here both insert it, and the second one's transaction fails and rolls back.
    """
    marker = await enqueue(
        session,
        OutboxKind.DIGEST_RUN,
        f"digest-run:{today.isoformat()}",
        {"day": today.isoformat()},
        at=now,
        status=OutboxStatus.DONE,
    )
    if marker is None:
        return None
    counts = await digest_counts(session, today)
    for user_id, count in sorted(counts.items()):
        await enqueue(
            session,
            OutboxKind.SEND_MAIL,
            f"digest:{today.isoformat()}:{user_id}",
            {"user_id": user_id, "template": MailTemplate.DIGEST.value, "count": count},
            at=now,
        )
    return len(counts)
