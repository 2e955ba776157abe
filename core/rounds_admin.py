"""巡察轮次 administration: create a round, change its groups' units, with conflict checks.

A unit is inspected by one 巡察组 at a time (第八条): within a round, and across rounds whose
dates overlap. The check runs on the router's own view of the county (``routing.Registry``)
with the new round added, so anything stored here is something ``load_registry`` accepts —
a conflicting round would otherwise stop every new report from being routed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import append_event
from core.county import BodyKind, RoundKind, add_round, body_by_name, today, unit_by_name
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Body, Round, RoundAssignment, Unit
from core.registry_store import load_registry
from routing import GroupAssignment, Registry
from routing import Round as RoutingRound
from routing.registry import RegistryError, RoundConflict

ROUND_KIND_NAMES = {
    "常规": RoundKind.REGULAR,
    "常规巡察": RoundKind.REGULAR,
    "regular": RoundKind.REGULAR,
    "专项": RoundKind.SPECIAL,
    "专项巡察": RoundKind.SPECIAL,
    "special": RoundKind.SPECIAL,
}


def parse_round_kind(text: str) -> RoundKind:
    try:
        return ROUND_KIND_NAMES[text.strip()]
    except KeyError:
        raise InvalidInput(f"巡察类型必须是“常规”或“专项”，而不是“{text}”。") from None


def parse_assignment(text: str) -> tuple[str, list[str]]:
    """``第一巡察组=县教育局,青山镇`` (full-width ＝ and ， accepted) -> group and unit names."""
    group, sep, units = text.replace("＝", "=").partition("=")
    names = [u.strip() for u in units.replace("，", ",").replace("、", ",").split(",")]
    if not sep or not group.strip() or not any(names):
        raise InvalidInput(f"分组写法应为“巡察组=单位,单位”，而不是“{text}”。")
    return group.strip(), [n for n in names if n]


async def _resolve(
    session: AsyncSession, assignments: Mapping[str, Sequence[str]]
) -> tuple[dict[str, list[str]], dict[str, str], dict[str, str]]:
    """Names -> ids; returns (group id -> unit ids, group names by id, unit names by id)."""
    by_id: dict[str, list[str]] = {}
    group_names: dict[str, str] = {}
    unit_names: dict[str, str] = {}
    for group_name, units in assignments.items():
        group = await body_by_name(session, group_name)
        if group.kind != BodyKind.INSPECTION_GROUP:
            raise InvalidInput(f"“{group_name}”不是巡察组。")
        group_names[group.id] = group.name
        ids = by_id.setdefault(group.id, [])
        for unit_name in units:
            unit = await unit_by_name(session, unit_name)
            unit_names[unit.id] = unit.name
            if unit.id not in ids:
                ids.append(unit.id)
    return by_id, group_names, unit_names


def _check_against(
    registry: Registry,
    candidate: RoutingRound,
    unit_names: Mapping[str, str],
) -> None:
    others = tuple(r for r in registry.rounds if r.id != candidate.id)
    try:
        replace(registry, rounds=(*others, candidate))
    except RoundConflict as conflict:
        unit = unit_names.get(conflict.unit_id, conflict.unit_id)
        groups = "和".join(dict.fromkeys(conflict.groups))
        rounds = "与".join(dict.fromkeys(conflict.round_names))
        raise Conflict(
            f"单位“{unit}”不能同时由{groups}巡察（{rounds}的日期重叠或为同一轮）。",
            code="round_conflict",
        ) from None
    except RegistryError as error:
        raise InvalidInput(str(error)) from None


async def _check(
    session: AsyncSession,
    round_id: str,
    name: str,
    kind: RoundKind,
    start_on: date,
    end_on: date,
    by_group: Mapping[str, list[str]],
    group_names: Mapping[str, str],
    unit_names: Mapping[str, str],
) -> None:
    if end_on < start_on:
        raise InvalidInput("巡察结束日期早于开始日期。")
    # Within one round first: RoutingRound itself refuses a unit given to two groups.
    seen: dict[str, str] = {}
    for group_id, unit_ids in by_group.items():
        for unit_id in unit_ids:
            if (first := seen.setdefault(unit_id, group_id)) != group_id:
                raise Conflict(
                    f"单位“{unit_names[unit_id]}”在同一轮巡察中不能同时分配给"
                    f"{group_names[first]}和{group_names[group_id]}。",
                    code="round_conflict",
                )
    candidate = RoutingRound(
        id=round_id,
        name=name,
        kind=kind.value,
        start=start_on,
        end=end_on,
        assignments=tuple(
            GroupAssignment(group_id, group_names[group_id], tuple(units))
            for group_id, units in by_group.items()
        ),
    )
    _check_against(await load_registry(session), candidate, unit_names)


async def create_round(
    session: AsyncSession,
    name: str,
    kind: RoundKind,
    start_on: date,
    end_on: date,
    assignments: Mapping[str, Sequence[str]],
    *,
    actor_id: str | None,
) -> Round:
    name = name.strip()
    if not name:
        raise InvalidInput("轮次名称不能为空。")
    if await session.scalar(select(Round.id).where(Round.name == name)) is not None:
        raise Conflict(f"轮次“{name}”已存在。")
    by_group, group_names, unit_names = await _resolve(session, assignments)
    await _check(session, "", name, kind, start_on, end_on, by_group, group_names, unit_names)
    round_ = await add_round(session, name, kind, start_on, end_on, by_group)
    await append_event(
        session,
        "round.created",
        actor_id=actor_id,
        detail={
            "round": name,
            "kind": kind.value,
            "start": start_on.isoformat(),
            "end": end_on.isoformat(),
            "assignments": _named(by_group, group_names, unit_names),
        },
    )
    return round_


def _named(
    by_group: Mapping[str, Sequence[str]],
    group_names: Mapping[str, str],
    unit_names: Mapping[str, str],
) -> dict[str, list[str]]:
    return {group_names[g]: sorted(unit_names[u] for u in units) for g, units in by_group.items()}


async def current_assignments(session: AsyncSession, round_: Round) -> dict[str, list[str]]:
    """Group name -> unit names of a round, for display and for the audit trail."""
    rows = (
        await session.execute(
            select(Body.name, Unit.name)
            .join(RoundAssignment, RoundAssignment.group_body_id == Body.id)
            .join(Unit, Unit.id == RoundAssignment.unit_id)
            .where(RoundAssignment.round_id == round_.id)
            .order_by(Body.name, Unit.name)
        )
    ).all()
    named: dict[str, list[str]] = {}
    for group, unit in rows:
        named.setdefault(group, []).append(unit)
    return named


async def reassign_round(
    session: AsyncSession,
    round_name: str,
    assignments: Mapping[str, Sequence[str]],
    *,
    actor_id: str | None,
    on: date | None = None,
) -> Round:
    """Replace a round's group -> units table. After the round has started the change is
    audited as such (before and after), since cases may already have been routed by it."""
    round_ = await session.scalar(select(Round).where(Round.name == round_name))
    if round_ is None:
        raise NotFound(f"没有名为“{round_name}”的巡察轮次。")
    by_group, group_names, unit_names = await _resolve(session, assignments)
    kind = RoundKind(round_.kind)
    await _check(
        session,
        round_.id,
        round_.name,
        kind,
        round_.start_on,
        round_.end_on,
        by_group,
        group_names,
        unit_names,
    )
    before = await current_assignments(session, round_)
    await session.execute(delete(RoundAssignment).where(RoundAssignment.round_id == round_.id))
    for group_id, unit_ids in by_group.items():
        session.add_all(
            RoundAssignment(round_id=round_.id, group_body_id=group_id, unit_id=u) for u in unit_ids
        )
    await session.flush()
    started = (on or today()) >= round_.start_on
    await append_event(
        session,
        "round.reassigned_after_start" if started else "round.reassigned",
        actor_id=actor_id,
        detail={
            "round": round_.name,
            "before": before,
            "after": _named(by_group, group_names, unit_names),
        },
    )
    return round_
