"""Which cases a staff user may see, and opening a case's data key for them.

Two independent locks guard every case:

* **keys**: the case data key is wrapped to the bodies that may read it (``CaseKey``); a body's
  private key is wrapped to each member (``BodyKeyGrant``); the member's private key lives only
  in their session, sealed under the cookie's secret. Without all three, nothing decrypts.
* **回避** (recusal): a user recused from a unit, or from a person (blind index), never sees
  that case — not in the queue, not in counts, not as a related case, not by its id. Recusal is
  a query condition applied everywhere here, so no view can forget it.

Visibility is "a body of the user holds a wrapped key for the case", which is exactly what the
user could decrypt; the office body is a reader of every case (``intake.pipeline.readers_for``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    cast,
    exists,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from core.county import BodyKind, now
from core.errors import InvalidInput, NotFound
from core.models import Body, BodyKey, BodyKeyGrant, Case, CaseKey, Membership, Recusal
from crypto import CaseKey as DataKey
from crypto import (
    DecryptionFailed,
    KeyPair,
    PublicKey,
    unwrap_body_key,
    unwrap_case_key,
    wrap_case_key,
)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
DUE_SOON_DAYS = 7
# A viewer with fewer keyed cases than this has a "sparse" queue (see queue_page).
SPARSE_QUEUE = 2_000


@dataclass(frozen=True)
class Viewer:
    """A staff user as storage sees them: who, and through which bodies."""

    user_id: str
    body_ids: frozenset[str]


class DeadlineFilter(StrEnum):
    OVERDUE = "overdue"  # 已逾期
    DUE_SOON = "due_soon"  # 7 日内到期
    HAS_DEADLINE = "has_deadline"  # 有办理期限


@dataclass(frozen=True)
class QueueFilter:
    statuses: tuple[str, ...] = ()
    discipline: str | None = None
    problem_type: str | None = None
    channel: str | None = None
    deadline: DeadlineFilter | None = None


@dataclass(frozen=True, order=True)
class Cursor:
    """Keyset position: the last (received_on, id) of the previous page, newest first."""

    received_on: date
    case_id: str

    def encode(self) -> str:
        return f"{self.received_on.isoformat()}~{self.case_id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse :meth:`encode` output; anything else is InvalidInput (422)."""
        day, sep, case_id = text.partition("~")
        try:
            received_on = date.fromisoformat(day)
        except ValueError:
            received_on = None
        if not sep or not case_id or received_on is None:
            raise InvalidInput("分页参数不正确。", code="invalid_cursor")
        return cls(received_on, case_id)


@dataclass(frozen=True)
class Page:
    cases: list[Case] = field(default_factory=list)
    next_cursor: Cursor | None = None


async def viewer_for(session: AsyncSession, user_id: str) -> Viewer:
    body_ids = await session.scalars(
        select(Membership.body_id).where(Membership.user_id == user_id)
    )
    return Viewer(user_id, frozenset(body_ids))


def readable(viewer: Viewer) -> ColumnElement[bool]:
    """Some body of the viewer holds a wrapped key for the case."""
    if not viewer.body_ids:
        return Case.id.is_(None)  # never true: a user without bodies reads nothing
    return exists().where(CaseKey.case_id == Case.id, CaseKey.body_id.in_(viewer.body_ids))


def recused(viewer: Viewer) -> ColumnElement[bool]:
    """回避: a recusal of this viewer names the case's unit or the accused person's index."""
    return exists().where(
        Recusal.user_id == viewer.user_id,
        or_(
            and_(Recusal.unit_id.is_not(None), Recusal.unit_id == Case.unit_id),
            and_(Recusal.person_index.is_not(None), Recusal.person_index == Case.blind_index),
        ),
    )


def not_recused(viewer: Viewer) -> ColumnElement[bool]:
    return ~recused(viewer)


def visible(viewer: Viewer) -> ColumnElement[bool]:
    return and_(readable(viewer), not_recused(viewer))


def _queue_base(viewer: Viewer, *, sparse: bool) -> Select[Case]:
    """The viewer's visible cases, in the form that plans well for the queue's shape.

    Dense (巡察办, a 巡察组): walk ``ix_cases_received`` newest first, probe the key index per
    case (``EXISTS``), stop after one page. Sparse (a destination body with a few hundred
    transfers among 100,000 cases): that walk would pass thousands of other cases per page, so
    start from the viewer's keys instead (a materialised set, joined by primary key) and sort
    those few rows. Neither SQLite nor PostgreSQL picks well across both shapes on its own
    (bench/bench_queue.py), so :func:`queue_page` chooses by a capped count of keys.
    """
    if not sparse or not viewer.body_ids:
        return select(Case).where(visible(viewer))
    keyed = (
        select(CaseKey.case_id)
        .where(CaseKey.body_id.in_(viewer.body_ids))
        .cte("keyed")
        .prefix_with("MATERIALIZED")
    )
    # IN (not a join) so that a case keyed to two of the viewer's bodies appears once.
    return select(Case).where(Case.id.in_(select(keyed.c.case_id)), not_recused(viewer))


async def is_sparse(session: AsyncSession, viewer: Viewer) -> bool:
    """Fewer than SPARSE_QUEUE keyed cases? (Counts at most that many index entries.)"""
    if not viewer.body_ids:
        return True
    capped = (
        select(CaseKey.id).where(CaseKey.body_id.in_(viewer.body_ids)).limit(SPARSE_QUEUE)
    ).subquery()
    return (await session.scalar(select(func.count()).select_from(capped)) or 0) < SPARSE_QUEUE


def _filtered(query: Select[Case], filters: QueueFilter, today: date) -> Select[Case]:
    if filters.statuses:
        query = query.where(Case.status.in_(filters.statuses))
    if filters.discipline:
        # Categories are a JSON list of fixed keys; no key is a substring of another in quotes.
        query = query.where(cast(Case.categories, String).like(f'%"{filters.discipline}"%'))
    if filters.problem_type:
        query = query.where(Case.problem_type == filters.problem_type)
    if filters.channel:
        query = query.where(Case.channel == filters.channel)
    if filters.deadline is DeadlineFilter.OVERDUE:
        query = query.where(Case.due_on < today)
    elif filters.deadline is DeadlineFilter.DUE_SOON:
        query = query.where(Case.due_on.between(today, today + timedelta(days=DUE_SOON_DAYS)))
    elif filters.deadline is DeadlineFilter.HAS_DEADLINE:
        query = query.where(Case.due_on.is_not(None))
    return query


async def queue_page(
    session: AsyncSession,
    viewer: Viewer,
    filters: QueueFilter,
    *,
    today: date,
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """One page of the viewer's queue, newest first, by keyset over (received_on, id).

    Keyset (not OFFSET) pagination costs the same on page 1000 as on page 1: the database
    seeks into ``ix_cases_received``/``ix_cases_queue`` at the cursor and reads one page.
    """
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    sparse = await is_sparse(session, viewer)
    query = _filtered(_queue_base(viewer, sparse=sparse), filters, today)
    if after is not None:
        # A row-value comparison lets both SQLite and PostgreSQL seek the index at the cursor;
        # the equivalent OR of two conditions is not always planned as a range.
        query = query.where(tuple_(Case.received_on, Case.id) < (after.received_on, after.case_id))
    query = query.order_by(Case.received_on.desc(), Case.id.desc()).limit(limit + 1)
    rows = list(await session.scalars(query))
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    return Page(rows[:limit], Cursor(last.received_on, last.id))


async def visible_case(
    session: AsyncSession, viewer: Viewer, case_id: str, *, for_update: bool = False
) -> Case:
    """The case, if the viewer may see it; otherwise NotFound (never 403: no confirmation)."""
    query = select(Case).where(Case.id == case_id, visible(viewer))
    if for_update:
        query = query.with_for_update(of=Case)
    case = await session.scalar(query)
    if case is None:
        raise NotFound("未找到该案件，或您无权查看。")
    return case


async def related_cases(session: AsyncSession, viewer: Viewer, case: Case) -> list[Case]:
    """Other cases about the same person (blind index) that the viewer may see."""
    if case.blind_index is None:
        return []
    query = (
        select(Case)
        .where(Case.blind_index == case.blind_index, Case.id != case.id, visible(viewer))
        .order_by(Case.received_on.desc(), Case.id.desc())
        .limit(20)
    )
    return list(await session.scalars(query))


async def open_data_key(
    session: AsyncSession, viewer: Viewer, user_keys: KeyPair, case_id: str
) -> DataKey:
    """Unwrap the case key: user key -> body key (grant) -> case key (CaseKey row)."""
    rows = await session.execute(
        select(CaseKey.wrapped, CaseKey.body_id, BodyKeyGrant.wrapped)
        .join(BodyKeyGrant, BodyKeyGrant.body_key_id == CaseKey.body_key_id)
        .where(
            CaseKey.case_id == case_id,
            CaseKey.body_id.in_(viewer.body_ids),
            BodyKeyGrant.user_id == viewer.user_id,
        )
    )
    for case_wrapped, body_id, grant in rows:
        if body_id is None:
            continue
        try:
            body_keys = unwrap_body_key(grant, body_id, user_keys)
            return unwrap_case_key(case_wrapped, case_id, body_keys)
        except DecryptionFailed:
            continue  # a stale grant (rotated user key); another body may still open it
    raise NotFound("您的机构尚未获得该案件的密钥。", code="no_case_key")


async def current_body_key(session: AsyncSession, body_id: str) -> BodyKey:
    key = await session.scalar(
        select(BodyKey)
        .where(BodyKey.body_id == body_id, BodyKey.retired_at.is_(None))
        .order_by(BodyKey.created_at.desc())
        .limit(1)
    )
    if key is None:
        raise NotFound("接收机构尚未配置密钥，请联系县委巡察办。", code="no_body_key")
    return key


async def bodies_of(session: AsyncSession, body_ids: Sequence[str]) -> dict[str, Body]:
    if not body_ids:
        return {}
    rows = await session.scalars(select(Body).where(Body.id.in_(body_ids)))
    return {body.id: body for body in rows}


async def body_of_kind(session: AsyncSession, kind: BodyKind, unit_id: str | None = None) -> Body:
    """The (first) body of a kind, e.g. 县委巡察办; for a unit's 党组织, of that unit."""
    query = select(Body).where(Body.kind == kind.value)
    if unit_id is not None:
        query = query.where(Body.unit_id == unit_id)
    body = await session.scalar(query.order_by(Body.created_at).limit(1))
    if body is None:
        raise NotFound("没有可接收该移交的机构。", code="no_destination_body")
    return body


async def grant_case_key(
    session: AsyncSession, case: Case, data_key: DataKey, body_id: str
) -> None:
    """Wrap the case data key to a body's current key (a 移交 approved, a reader added)."""
    key = await current_body_key(session, body_id)
    existing = await session.scalar(
        select(CaseKey.id).where(CaseKey.case_id == case.id, CaseKey.body_key_id == key.id)
    )
    if existing is None:
        session.add(
            CaseKey(
                case_id=case.id,
                body_id=body_id,
                body_key_id=key.id,
                wrapped=wrap_case_key(data_key, case.id, PublicKey(key.public_key)),
                created_at=now(),
            )
        )
