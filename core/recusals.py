"""回避 lists (第八条): keep a user away from a unit's cases, or from cases about one person.

A recusal is a row in ``recusals``; ``core.access`` turns every row into a query condition
on every case view, so adding one hides the affected cases at once, with no cache to expire.

Persons are named by blind index only (``crypto.blind_index``), so the list never holds a
name in clear. A case's index is computed from the accused name and the unit *as the reporter
typed it*; a person recusal therefore stores one index per spelling we know — no unit, the
unit's name and each of its aliases. Spellings a reporter invents are not covered: a unit
recusal is the robust choice where the whole unit is concerned.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import append_event
from core.county import now, unit_by_name
from core.errors import Conflict, InvalidInput, NotFound
from core.invitations import user_by_username
from core.models import Recusal, Unit, UnitAlias, User
from crypto import BlindIndexInputError, blind_index


@dataclass(frozen=True)
class RecusalEntry:
    """One line of a user's 回避 list as the console shows it."""

    id: str
    unit_name: str | None
    by_person: bool


async def add_unit_recusal(
    session: AsyncSession, username: str, unit_name: str, *, actor_id: str | None
) -> Recusal:
    user = await user_by_username(session, username)
    unit = await unit_by_name(session, unit_name)
    exists = await session.scalar(
        select(Recusal.id).where(Recusal.user_id == user.id, Recusal.unit_id == unit.id)
    )
    if exists is not None:
        raise Conflict(f"“{username}”已对“{unit.name}”回避。")
    recusal = Recusal(user_id=user.id, unit_id=unit.id, created_at=now())
    session.add(recusal)
    await session.flush()
    await append_event(
        session, "recusal.added", actor_id=actor_id, detail={"user": username, "unit": unit.name}
    )
    return recusal


async def _spellings(session: AsyncSession, unit_name: str | None) -> list[str]:
    if not unit_name:
        return [""]
    unit = await unit_by_name(session, unit_name)
    aliases = await session.scalars(select(UnitAlias.alias).where(UnitAlias.unit_id == unit.id))
    return ["", unit.name, *aliases]


async def add_person_recusal(
    session: AsyncSession,
    username: str,
    person_name: str,
    *,
    unit_name: str | None,
    index_key: bytes,
    actor_id: str | None,
) -> int:
    """Recuse ``username`` from cases about ``person_name``; returns how many indexes were added.

    The audit event records that a person recusal was added, never the name.
    """
    user = await user_by_username(session, username)
    try:
        indexes = {
            blind_index(index_key, person_name, spelling)
            for spelling in await _spellings(session, unit_name)
        }
    except BlindIndexInputError:
        raise InvalidInput("请填写被回避人员的姓名。") from None
    known = set(
        await session.scalars(
            select(Recusal.person_index).where(
                Recusal.user_id == user.id, Recusal.person_index.in_(indexes)
            )
        )
    )
    fresh = sorted(indexes - known)
    session.add_all(
        Recusal(user_id=user.id, person_index=index, created_at=now()) for index in fresh
    )
    await session.flush()
    await append_event(
        session,
        "recusal.added",
        actor_id=actor_id,
        detail={"user": username, "person": True, "indexes": len(fresh)},
    )
    return len(fresh)


async def recusals_of(session: AsyncSession, user: User) -> list[RecusalEntry]:
    rows = (
        await session.execute(
            select(Recusal.id, Unit.name, Recusal.person_index)
            .outerjoin(Unit, Unit.id == Recusal.unit_id)
            .where(Recusal.user_id == user.id)
            .order_by(Recusal.created_at)
        )
    ).all()
    return [RecusalEntry(rid, unit, index is not None) for rid, unit, index in rows]


async def remove_recusal(session: AsyncSession, recusal_id: str, *, actor_id: str | None) -> None:
    recusal = await session.get(Recusal, recusal_id)
    if recusal is None:
        raise NotFound("该回避记录不存在。")
    user = await session.get(User, recusal.user_id)
    unit = await session.get(Unit, recusal.unit_id) if recusal.unit_id else None
    await session.delete(recusal)
    await session.flush()
    await append_event(
        session,
        "recusal.removed",
        actor_id=actor_id,
        detail={
            "user": user.username if user else recusal.user_id,
            "unit": unit.name if unit else None,
            "person": recusal.person_index is not None,
        },
    )
