"""First run without the demo: the county's structural bodies and the first 巡察办 administrator.

Structural bodies are those every county has (第八条, 第十九条): 县委巡察办, five 巡察组, 县纪委,
县委组织部, 相关部门 and the 巡察工作领导小组. Units, their 党组织, rounds and other users come
later through administration (``xuncha unit import`` …). Each body gets its keypair now, wrapped
to the escrow key; the office's private key is also granted to the first administrator while
it is still in memory, so the office can read cases from the first report on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import append_event
from core.body_keys import body_keys_via_escrow, grant_body_keys
from core.county import BodyKind, Role, add_body, now
from core.demo import (
    DISCIPLINE_COMMISSION,
    GROUPS,
    LEADING_GROUP,
    OFFICE,
    ORGANIZATION_DEPARTMENT,
    RELEVANT_DEPARTMENT,
)
from core.errors import Conflict, InvalidInput
from core.invitations import Invitation, seal_for_invitation
from core.models import Body, Membership, Meta, User, new_id
from core.staff_admin import USERNAME, check_email
from crypto import KeyPair, PublicKey

STRUCTURE_MARK = "county_structure"

STRUCTURAL_BODIES: tuple[tuple[str, BodyKind], ...] = (
    (OFFICE, BodyKind.OFFICE),
    *((name, BodyKind.INSPECTION_GROUP) for name in GROUPS),
    (DISCIPLINE_COMMISSION, BodyKind.DISCIPLINE_COMMISSION),
    (ORGANIZATION_DEPARTMENT, BodyKind.ORGANIZATION_DEPARTMENT),
    (RELEVANT_DEPARTMENT, BodyKind.RELEVANT_DEPARTMENT),
    (LEADING_GROUP, BodyKind.LEADING_GROUP),
)


@dataclass(frozen=True)
class FirstAdmin:
    """Who becomes the first administrator (from flags or from the interactive prompt)."""

    username: str
    email: str


@dataclass(frozen=True)
class FirstRun:
    structure_created: bool
    admin_invitation: Invitation | None = field(default=None, repr=False)
    admin_exists: bool = False


async def has_admin(session: AsyncSession) -> bool:
    count = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, User.disabled_at.is_(None))
    )
    return bool(count)


async def set_up_county(
    session: AsyncSession,
    *,
    escrow: PublicKey,
    admin: FirstAdmin | None,
    escrow_private: KeyPair | None = None,
) -> FirstRun:
    """Create the structure once (a ``meta`` row marks it) and, if none exists, the admin.

    When the admin comes in a later run than the structure, the office key is no longer in
    memory: it is opened through ``escrow_private`` if given (the custody file is still in the
    data directory until it is exported), else the admin's grant stays pending.
    """
    office_key: KeyPair | None = None
    created = await session.get(Meta, STRUCTURE_MARK) is None
    if created:
        if await session.scalar(select(func.count()).select_from(Body)):
            raise Conflict("数据库中已有机构（示范县？），不能再按正式县初始化。")
        for name, kind in STRUCTURAL_BODIES:
            _, keypair = await add_body(session, name, kind, escrow)
            if kind is BodyKind.OFFICE:
                office_key = keypair
        session.add(Meta(key=STRUCTURE_MARK, value=now().date().isoformat()))
        await session.flush()
        await append_event(
            session,
            "county.structure_created",
            detail={"bodies": [n for n, _ in STRUCTURAL_BODIES]},
        )
    if await has_admin(session):
        return FirstRun(created, None, admin_exists=True)
    if admin is None:
        return FirstRun(created, None)
    invitation = await _first_admin(session, admin, office_key, escrow_private)
    return FirstRun(created, invitation, admin_exists=True)


async def _first_admin(
    session: AsyncSession,
    admin: FirstAdmin,
    office_key: KeyPair | None,
    escrow_private: KeyPair | None,
) -> Invitation:
    if not USERNAME.fullmatch(admin.username):
        raise InvalidInput(f"用户名“{admin.username}”不合规（小写字母开头，2–64 位）。")
    office = await session.scalar(select(Body).where(Body.kind == BodyKind.OFFICE.value))
    assert office is not None  # noqa: S101 — created with the structure above
    keypair = KeyPair.generate()
    user = User(
        id=new_id(),
        username=admin.username,
        role=Role.ADMIN.value,
        email=check_email(admin.email),
        public_key=keypair.public.raw,
        failed_logins=0,
        created_at=now(),
    )
    invitation = seal_for_invitation(user, keypair)
    session.add(user)
    await session.flush()
    session.add(Membership(user_id=user.id, body_id=office.id, created_at=now()))
    await session.flush()
    if office_key is not None:
        keys = [office_key]
    elif escrow_private is not None:
        keys = await body_keys_via_escrow(session, office, escrow_private)
    else:
        keys = []
    await grant_body_keys(session, user, office, keys)
    await append_event(
        session,
        "user.invited",
        detail={
            "user": admin.username,
            "role": Role.ADMIN.value,
            "body": office.name,
            "granted": bool(keys),
        },
    )
    return invitation
