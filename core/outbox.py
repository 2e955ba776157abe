"""The transactional outbox: background work written in the same transaction as its cause.

Payloads name bodies, users and counts, never report content (SPEC §3).

Two ways to take work out:

* `take_due` locks due rows for work that is finished inside the same
  transaction (fan-out, batching): the transaction is the guarantee.
* `claim` is for work with a side effect outside the database (sending a
  mail). It marks rows ``claimed`` with a lease and commits, the caller acts,
  then `mark_done` or `mark_retry` in a new transaction. A worker that dies in
  between leaves the row claimed; when the lease runs out another worker claims
  it again, so a crash between send and mark gives one duplicate, never a loss.

On PostgreSQL both lock with ``FOR UPDATE SKIP LOCKED``, so any number of
workers (and instances) share the table without waiting for or repeating each
other. SQLite ignores the clause; there one worker runs, and `core.db` queues
its write transactions behind the process's write lock.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import insert_new
from core.models import OutboxItem, User, as_utc, new_id

LAST_ERROR_LENGTH = 500


class OutboxKind(StrEnum):
    NOTIFY_BODY = "notify_body"  # tell a body's members that something waits for them
    NOTIFY_USER = "notify_user"  # one waiting item for one user, batched into a mail
    SEND_MAIL = "send_mail"  # one mail to one user (a batch of notices or the daily digest)
    DIGEST_RUN = "digest_run"  # marks the day whose deadline digest was computed


class OutboxStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"  # a worker is acting on it until next_attempt_at (the lease)
    DONE = "done"
    SKIPPED = "skipped"  # nothing to do any more (e.g. the recipient was disabled)
    FAILED = "failed"  # gave up: 巡察办 sees it (`failed_notifications`)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, for at most ``window`` after the item was written.

    Jitter ("equal jitter": half fixed, half random) keeps workers that failed
    together — an SMTP relay that was down — from all retrying in the same second.
    """

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    window: timedelta = timedelta(hours=48)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        ceiling = min(self.cap, self.base * (1 << min(max(attempts - 1, 0), 20)))
        return ceiling / 2 + ceiling / 2 * rng.random()


DEFAULT_RETRY = RetryPolicy()


async def enqueue(
    session: AsyncSession,
    kind: OutboxKind,
    idempotency_key: str,
    payload: dict[str, Any],
    *,
    at: datetime | None = None,
    not_before: datetime | None = None,
    status: OutboxStatus = OutboxStatus.PENDING,
    key_is_new: bool = False,
) -> OutboxItem | None:
    """Queue one item unless an item with this key exists (then return None).

    ``key_is_new``: the key embeds an id created in this same transaction, so no item can
    hold it yet and the lookup is skipped (it would be one more query on every report).
    """
    if not key_is_new:
        existing = await session.scalar(
            select(OutboxItem.id).where(OutboxItem.idempotency_key == idempotency_key)
        )
        if existing is not None:
            return None
    moment = at or datetime.now(UTC)
    item = OutboxItem(
        id=new_id(),
        kind=kind.value,
        idempotency_key=idempotency_key,
        payload=payload,
        status=status.value,
        attempts=0,
        next_attempt_at=not_before or moment,
        created_at=moment,
        done_at=moment if status is OutboxStatus.DONE else None,
    )
    await insert_new(session, [item])
    return item


def _due(kind: OutboxKind, now: datetime, statuses: Sequence[OutboxStatus]) -> Any:
    return (
        select(OutboxItem)
        .where(
            OutboxItem.kind == kind.value,
            OutboxItem.status.in_([s.value for s in statuses]),
            OutboxItem.next_attempt_at <= now,
        )
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
    )


async def take_due(
    session: AsyncSession, kind: OutboxKind, now: datetime, *, limit: int
) -> list[OutboxItem]:
    """Lock due pending items for work finished in this transaction (others skip them)."""
    query = _due(kind, now, [OutboxStatus.PENDING]).limit(limit)
    return list(await session.scalars(query.with_for_update(skip_locked=True)))


async def take_pending(session: AsyncSession, kind: OutboxKind, *, limit: int) -> list[OutboxItem]:
    """Lock pending items due or not, oldest first (batching looks at what is not due yet)."""
    query = (
        select(OutboxItem)
        .where(OutboxItem.kind == kind.value, OutboxItem.status == OutboxStatus.PENDING.value)
        .order_by(OutboxItem.created_at, OutboxItem.id)
        .limit(limit)
    )
    return list(await session.scalars(query.with_for_update(skip_locked=True)))


def finish(item: OutboxItem, now: datetime, status: OutboxStatus = OutboxStatus.DONE) -> None:
    """Close an item taken with `take_due`/`take_pending` (the caller's transaction commits)."""
    item.status = status.value
    item.done_at = now


@dataclass(frozen=True, slots=True)
class Claim:
    """What a worker needs after the claiming transaction has committed.

    ``attempt`` fences the later mark: if the lease ran out and another worker
    claimed the item again, this worker's mark changes nothing.
    """

    id: str
    idempotency_key: str
    payload: dict[str, Any]
    attempt: int
    created_at: datetime


async def claim(
    session: AsyncSession, kind: OutboxKind, now: datetime, *, limit: int, lease: timedelta
) -> list[Claim]:
    """Claim due items (pending, or claimed by a worker whose lease ran out)."""
    query = _due(kind, now, [OutboxStatus.PENDING, OutboxStatus.CLAIMED]).limit(limit)
    claims = []
    for item in await session.scalars(query.with_for_update(skip_locked=True)):
        item.status = OutboxStatus.CLAIMED.value
        item.attempts += 1
        item.next_attempt_at = now + lease
        claims.append(
            Claim(
                item.id, item.idempotency_key, item.payload, item.attempts, as_utc(item.created_at)
            )
        )
    await session.flush()
    return claims


async def _mark(session: AsyncSession, claimed: Claim, **values: Any) -> bool:
    result = await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.id == claimed.id,
            OutboxItem.status == OutboxStatus.CLAIMED.value,
            OutboxItem.attempts == claimed.attempt,
        )
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_done(
    session: AsyncSession,
    claimed: Claim,
    now: datetime,
    status: OutboxStatus = OutboxStatus.DONE,
    note: str | None = None,
) -> bool:
    """Record that the claimed work happened; False when the claim was lost meanwhile."""
    return await _mark(session, claimed, status=status.value, done_at=now, last_error=note)


async def mark_retry(
    session: AsyncSession,
    claimed: Claim,
    now: datetime,
    error: str,
    *,
    permanent: bool,
    policy: RetryPolicy,
    rng: random.Random,
) -> OutboxStatus:
    """Schedule the next attempt, or give up (permanent error, or the window is over)."""
    error = error[:LAST_ERROR_LENGTH]
    give_up_at = claimed.created_at + policy.window
    if permanent or now >= give_up_at:
        await _mark(
            session, claimed, status=OutboxStatus.FAILED.value, done_at=now, last_error=error
        )
        return OutboxStatus.FAILED
    # The last try lands on the end of the window rather than past it.
    next_attempt = min(now + policy.delay(claimed.attempt, rng), give_up_at)
    await _mark(
        session,
        claimed,
        status=OutboxStatus.PENDING.value,
        next_attempt_at=next_attempt,
        last_error=error,
    )
    return OutboxStatus.PENDING


@dataclass(frozen=True, slots=True)
class FailedNotification:
    """A mail that was given up on, as 巡察办 sees it: who missed what, when and why."""

    id: str
    username: str | None
    created_at: datetime
    failed_at: datetime | None
    attempts: int
    last_error: str | None


async def failed_notifications(
    session: AsyncSession, *, limit: int = 200
) -> list[FailedNotification]:
    """Notifications that finally failed, newest first (for 巡察办: console and CLI)."""
    rows = await session.scalars(
        select(OutboxItem)
        .where(
            OutboxItem.kind == OutboxKind.SEND_MAIL.value,
            OutboxItem.status == OutboxStatus.FAILED.value,
        )
        .order_by(OutboxItem.done_at.desc(), OutboxItem.id)
        .limit(limit)
    )
    items = list(rows)
    user_ids = {str(item.payload.get("user_id")) for item in items}
    names = dict(
        (await session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))).all()
    )
    return [
        FailedNotification(
            id=item.id,
            username=names.get(str(item.payload.get("user_id"))),
            created_at=as_utc(item.created_at),
            failed_at=as_utc(item.done_at) if item.done_at else None,
            attempts=item.attempts,
            last_error=item.last_error,
        )
        for item in items
    ]


async def requeue_failed(session: AsyncSession, item_ids: Sequence[str], now: datetime) -> int:
    """Give failed notifications a fresh retry window (after the cause was fixed)."""
    result = await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.id.in_(list(item_ids)),
            OutboxItem.kind == OutboxKind.SEND_MAIL.value,
            OutboxItem.status == OutboxStatus.FAILED.value,
        )
        .values(
            status=OutboxStatus.PENDING.value,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
            done_at=None,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def purge_finished(session: AsyncSession, before: datetime) -> int:
    """Delete done and skipped items finished before ``before`` (failed ones stay)."""
    result = await session.execute(
        delete(OutboxItem).where(
            OutboxItem.status.in_([OutboxStatus.DONE.value, OutboxStatus.SKIPPED.value]),
            OutboxItem.done_at < before,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
