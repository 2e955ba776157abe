"""The county's structure: units, bodies and their keys, users and memberships, rounds.

Store functions take the session first and never commit: the caller owns
the transaction, so a failure leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, NotFound
from core.models import (
    Body,
    BodyKey,
    BodyKeyGrant,
    Membership,
    Round,
    RoundAssignment,
    Unit,
    UnitAlias,
    User,
)
from crypto.keys import KeyPair, PublicKey, wrap_body_key


class BodyKind(StrEnum):
    INSPECTION_GROUP = "inspection_group"  # 巡察组
    OFFICE = "office"  # 县委巡察办
    DISCIPLINE_COMMISSION = "discipline_commission"  # 县纪委
    ORGANIZATION_DEPARTMENT = "organization_department"  # 县委组织部
    UNIT_PARTY_ORG = "unit_party_org"  # 被巡察单位党组织
    RELEVANT_DEPARTMENT = "relevant_department"  # 相关部门
    LEADING_GROUP = "leading_group"  # 巡察工作领导小组


class Role(StrEnum):
    ADMIN = "admin"  # 巡察办 administrator
    MEMBER = "member"  # member of a reading body (巡察组, 纪委, 组织部, 党组织, 相关部门)
    LEADER = "leader"  # 领导小组 oversight
    OPERATOR = "operator"  # hotline operator: enters reports, reads none


class UnitKind(StrEnum):
    """被巡察单位类型 (第十一条)."""

    COUNTY_PARTY_DEPARTMENT = "县委工作部门"
    COUNTY_GOVERNMENT_DEPARTMENT = "县政府部门"
    PEOPLES_ORGANISATION = "人民团体"
    STATE_ENTERPRISE = "国有企业"
    PUBLIC_INSTITUTION = "事业单位"
    TOWNSHIP = "镇（街道）"
    KEY_VILLAGE = "重点村（社区）"
    OTHER = "其他"


class RoundKind(StrEnum):
    REGULAR = "regular"  # 常规巡察
    SPECIAL = "special"  # 专项巡察


# Dates that people see (received on, due on) are the county's dates, not UTC's.
COUNTY_TIMEZONE = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return datetime.now(COUNTY_TIMEZONE).date()


async def add_unit(
    session: AsyncSession, name: str, kind: UnitKind, aliases: Iterable[str] = ()
) -> Unit:
    unit = Unit(name=name, kind=kind.value, created_at=now())
    session.add(unit)
    await session.flush()
    for alias in aliases:
        session.add(UnitAlias(unit_id=unit.id, alias=alias))
    await session.flush()
    return unit


async def unit_by_name(session: AsyncSession, name: str) -> Unit:
    unit = await session.scalar(select(Unit).where(Unit.name == name))
    if unit is None:
        unit = await session.scalar(
            select(Unit)
            .join(UnitAlias, UnitAlias.unit_id == Unit.id)
            .where(UnitAlias.alias == name)
        )
    if unit is None:
        raise NotFound(f"没有名为“{name}”的单位。")
    return unit


async def add_body(
    session: AsyncSession,
    name: str,
    kind: BodyKind,
    escrow: PublicKey,
    *,
    unit_id: str | None = None,
) -> tuple[Body, KeyPair]:
    """Create a body with a fresh keypair; the private key is wrapped to the escrow key at once,
    so 巡察办 can always restore access to it (membership changes, lost passwords)."""
    body = Body(name=name, kind=kind.value, unit_id=unit_id, created_at=now())
    session.add(body)
    await session.flush()
    keypair = await add_body_key(session, body, escrow)
    return body, keypair


async def add_body_key(session: AsyncSession, body: Body, escrow: PublicKey) -> KeyPair:
    keypair = KeyPair.generate()
    session.add(
        BodyKey(
            id=keypair.key_id,
            body_id=body.id,
            public_key=keypair.public.raw,
            created_at=now(),
        )
    )
    await session.flush()
    session.add(
        BodyKeyGrant(
            body_key_id=keypair.key_id,
            user_id=None,
            wrapped=wrap_body_key(keypair, body.id, escrow),
            created_at=now(),
        )
    )
    return keypair


async def body_by_name(session: AsyncSession, name: str) -> Body:
    body = await session.scalar(select(Body).where(Body.name == name))
    if body is None:
        raise NotFound(f"没有名为“{name}”的机构。")
    return body


async def add_membership(
    session: AsyncSession, user: User, body: Body, body_keys: Iterable[KeyPair]
) -> Membership:
    """Make ``user`` a member of ``body`` and wrap every key generation of the body to them."""
    if user.public_key is None:
        raise Conflict("该用户尚未生成密钥，首次登录后才能加入机构。")
    member_key = PublicKey(user.public_key)
    membership = Membership(user_id=user.id, body_id=body.id, created_at=now())
    session.add(membership)
    for keypair in body_keys:
        session.add(
            BodyKeyGrant(
                body_key_id=keypair.key_id,
                user_id=user.id,
                wrapped=wrap_body_key(keypair, body.id, member_key),
                created_at=now(),
            )
        )
    await session.flush()
    return membership


async def add_round(
    session: AsyncSession,
    name: str,
    kind: RoundKind,
    start_on: date,
    end_on: date,
    assignments: dict[str, list[str]],
) -> Round:
    """Create a round; ``assignments`` maps a 巡察组 body id to unit ids.

    A unit may be in one group only per round; the unique constraint makes
    the database refuse it too.
    """
    if end_on < start_on:
        raise Conflict("巡察结束日期早于开始日期。")
    seen: dict[str, str] = {}
    for group_id, unit_ids in assignments.items():
        for unit_id in unit_ids:
            if unit_id in seen:
                raise Conflict("同一单位在一轮巡察中不能分配给两个巡察组。")
            seen[unit_id] = group_id
    round_ = Round(name=name, kind=kind.value, start_on=start_on, end_on=end_on, created_at=now())
    session.add(round_)
    await session.flush()
    for group_id, unit_ids in assignments.items():
        for unit_id in unit_ids:
            session.add(
                RoundAssignment(round_id=round_.id, group_body_id=group_id, unit_id=unit_id)
            )
    await session.flush()
    return round_
