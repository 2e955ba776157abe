"""Build the router's view of the county (routing.Registry) from the database."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.county import BodyKind
from core.models import Body, Membership, Recusal, Round, RoundAssignment, Unit, UnitAlias
from routing import GroupAssignment, Registry
from routing import Recusal as RoutingRecusal
from routing import Round as RoutingRound
from routing import Unit as RoutingUnit


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
