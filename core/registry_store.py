"""Build the router's view of the county (routing.Registry) from the database."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.county import BodyKind
from core.db import Database
from core.models import Body, Membership, Recusal, Round, RoundAssignment, Unit, UnitAlias
from routing import GroupAssignment, Registry
from routing import Recusal as RoutingRecusal
from routing import Round as RoutingRound
from routing import Unit as RoutingUnit


class RegistryCache:
    """The registry, re-read at most every ``ttl`` seconds.

    Routing needs it for every submission; the county's structure changes a
    few times a year. A new round or unit takes effect within ``ttl``; 回避
    is enforced again when a case is read, so a short staleness never shows
    a case to a recused member.
    """

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._registry: Registry | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self, db: Database) -> Registry:
        if self._registry is not None and time.monotonic() - self._loaded_at < self.ttl:
            return self._registry
        async with self._lock:
            if self._registry is None or time.monotonic() - self._loaded_at >= self.ttl:
                async with db.reading() as session:
                    self._registry = await load_registry(session)
                self._loaded_at = time.monotonic()
            return self._registry

    def invalidate(self) -> None:
        self._registry = None


async def load_registry(session: AsyncSession) -> Registry:
    aliases: dict[str, list[str]] = defaultdict(list)
    for unit_id, alias in (await session.execute(select(UnitAlias.unit_id, UnitAlias.alias))).all():
        aliases[unit_id].append(alias)
    units = tuple(
        RoutingUnit(id=u.id, name=u.name, aliases=tuple(aliases[u.id]), kind=u.kind)
        for u in await session.scalars(select(Unit).order_by(Unit.name))
    )
    bodies = {b.id: b for b in await session.scalars(select(Body))}
    office = next((b for b in bodies.values() if b.kind == BodyKind.OFFICE), None)

    by_round: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for a in await session.scalars(select(RoundAssignment)):
        by_round[a.round_id][a.group_body_id].append(a.unit_id)
    rounds = tuple(
        RoutingRound(
            id=r.id,
            name=r.name,
            kind=r.kind,
            start=r.start_on,
            end=r.end_on,
            assignments=tuple(
                GroupAssignment(
                    group_body_id=group_id, group_name=bodies[group_id].name, unit_ids=tuple(ids)
                )
                for group_id, ids in sorted(by_round[r.id].items())
            ),
        )
        for r in await session.scalars(select(Round).order_by(Round.start_on))
    )
    recusals = tuple(
        RoutingRecusal(user_id=r.user_id, unit_id=r.unit_id)
        for r in await session.scalars(select(Recusal).where(Recusal.unit_id.is_not(None)))
        if r.unit_id is not None
    )
    members: dict[str, list[str]] = defaultdict(list)
    for m in await session.scalars(select(Membership)):
        members[m.body_id].append(m.user_id)
    empty = Registry.empty()
    return Registry(
        units=units,
        rounds=rounds,
        recusals=recusals,
        office_body_id=office.id if office else empty.office_body_id,
        office_name=office.name if office else empty.office_name,
        group_members={k: tuple(v) for k, v in members.items()},
    )
