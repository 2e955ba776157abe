"""The demo county of SPEC §7 (示范县), loaded by `xuncha init --demo`.

Loading is idempotent: a `meta` row marks it done, and it runs under the
init lock (core.schema), so two instances starting together load it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.county import (
    BodyKind,
    Role,
    RoundKind,
    UnitKind,
    add_body,
    add_membership,
    add_round,
    add_unit,
)
from core.models import Body, Meta, Unit
from core.users import create_user
from crypto.argon import Argon2Params
from crypto.keys import KeyPair, PublicKey

DEMO_MARK = "demo_county"
COUNTY = "示范县"
ROUND_NAME = "十五届县委第三轮巡察"

UNITS: tuple[tuple[str, UnitKind, tuple[str, ...]], ...] = (
    ("县教育局", UnitKind.COUNTY_GOVERNMENT_DEPARTMENT, ("教育局",)),
    ("县自然资源局", UnitKind.COUNTY_GOVERNMENT_DEPARTMENT, ("自然资源局", "县自然局")),
    ("县卫生健康局", UnitKind.COUNTY_GOVERNMENT_DEPARTMENT, ("卫生健康局", "县卫健局", "卫健局")),
    ("县住房和城乡建设局", UnitKind.COUNTY_GOVERNMENT_DEPARTMENT, ("县住建局", "住建局")),
    ("县财政局", UnitKind.COUNTY_GOVERNMENT_DEPARTMENT, ("财政局",)),
    ("县发展和改革局", UnitKind.COUNTY_GOVERNMENT_DEPARTMENT, ("县发改局", "发改局")),
    ("青山镇", UnitKind.TOWNSHIP, ("青山镇人民政府", "青山镇党委")),
    ("河口镇", UnitKind.TOWNSHIP, ("河口镇人民政府", "河口镇党委")),
    ("县城市建设投资有限公司", UnitKind.STATE_ENTERPRISE, ("县城投公司", "城投公司")),
    ("县人民医院", UnitKind.PUBLIC_INSTITUTION, ("人民医院",)),
    ("东风村", UnitKind.KEY_VILLAGE, ("东风村委会", "东风村党支部")),
)

GROUPS = ("第一巡察组", "第二巡察组", "第三巡察组", "第四巡察组", "第五巡察组")
OFFICE = "县委巡察办"
DISCIPLINE_COMMISSION = "县纪委"
ORGANIZATION_DEPARTMENT = "县委组织部"
RELEVANT_DEPARTMENT = "相关部门"
LEADING_GROUP = "巡察工作领导小组"

ASSIGNMENTS = {
    "第一巡察组": "县教育局",
    "第二巡察组": "县自然资源局",
    "第三巡察组": "青山镇",
    "第四巡察组": "县城市建设投资有限公司",
    "第五巡察组": "县人民医院",
}

# username -> (role, body name or None)
USERS: tuple[tuple[str, Role, str | None], ...] = (
    ("xcb", Role.ADMIN, OFFICE),
    *((f"group{i}", Role.MEMBER, name) for i, name in enumerate(GROUPS, start=1)),
    ("jw", Role.MEMBER, DISCIPLINE_COMMISSION),
    ("zzb", Role.MEMBER, ORGANIZATION_DEPARTMENT),
    ("hotline", Role.OPERATOR, None),
    ("leader", Role.LEADER, LEADING_GROUP),
)


def party_org_name(unit_name: str) -> str:
    return f"{unit_name}党组织"


@dataclass(frozen=True)
class DemoResult:
    loaded: bool
    usernames: tuple[str, ...]


async def load_demo_county(
    session: AsyncSession,
    *,
    escrow: PublicKey,
    password: str,
    password_params: Argon2Params,
    today: date,
) -> DemoResult:
    if await session.get(Meta, DEMO_MARK) is not None:
        return DemoResult(False, ())
    units: dict[str, Unit] = {}
    for name, kind, aliases in UNITS:
        units[name] = await add_unit(session, name, kind, aliases)

    bodies: dict[str, Body] = {}
    keys: dict[str, KeyPair] = {}
    structural: list[tuple[str, BodyKind, str | None]] = [
        *((name, BodyKind.INSPECTION_GROUP, None) for name in GROUPS),
        (OFFICE, BodyKind.OFFICE, None),
        (DISCIPLINE_COMMISSION, BodyKind.DISCIPLINE_COMMISSION, None),
        (ORGANIZATION_DEPARTMENT, BodyKind.ORGANIZATION_DEPARTMENT, None),
        (RELEVANT_DEPARTMENT, BodyKind.RELEVANT_DEPARTMENT, None),
        (LEADING_GROUP, BodyKind.LEADING_GROUP, None),
        *((party_org_name(u), BodyKind.UNIT_PARTY_ORG, units[u].id) for u in units),
    ]
    for name, body_kind, unit_id in structural:
        bodies[name], keys[name] = await add_body(session, name, body_kind, escrow, unit_id=unit_id)

    await add_round(
        session,
        ROUND_NAME,
        RoundKind.REGULAR,
        today - timedelta(days=10),
        today + timedelta(days=20),
        {bodies[group].id: [units[unit].id] for group, unit in ASSIGNMENTS.items()},
    )

    for username, role, body_name in USERS:
        user, _ = await create_user(
            session,
            username,
            role,
            email=f"{username}@xuncha.local",
            password=password,
            password_params=password_params,
        )
        if body_name is not None:
            await add_membership(session, user, bodies[body_name], [keys[body_name]])

    session.add(Meta(key=DEMO_MARK, value=today.isoformat()))
    await session.flush()
    return DemoResult(True, tuple(u for u, _, _ in USERS))
