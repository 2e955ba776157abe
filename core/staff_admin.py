"""Administering staff: bodies, invitations, memberships, disabling, 2FA reset, escrow recovery.

Users are never deleted: the audit chain names them (``events.actor_id``), so a departed
member is *disabled* — sessions revoked, login refused, history kept. Every change here writes
an audit event naming the actor (None: the command line, run by whoever holds the server).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import append_event
from core.body_keys import body_keys_via_escrow, grant_body_keys
from core.county import BodyKind, Role, add_body, body_by_name, now, unit_by_name
from core.errors import Conflict, InvalidInput
from core.invitations import (
    Invitation,
    InvitationState,
    invitation_state,
    revoke_sessions,
    seal_for_invitation,
    user_by_username,
)
from core.models import Body, BodyKeyGrant, Membership, User, new_id
from crypto import KeyPair, PublicKey

USERNAME = re.compile(r"[a-z][a-z0-9._-]{1,63}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

ROLE_LABELS = {
    Role.ADMIN: "巡察办管理员",
    Role.MEMBER: "机构成员",
    Role.LEADER: "领导小组成员",
    Role.OPERATOR: "热线接线员",
}


def parse_role(text: str) -> Role:
    for role, label in ROLE_LABELS.items():
        if text in (role.value, label):
            return role
    raise InvalidInput(f"未知角色“{text}”（可选：admin、member、leader、operator）。")


def check_email(email: str) -> str:
    email = email.strip()
    if not EMAIL.fullmatch(email) or len(email) > 254:
        raise InvalidInput(f"邮箱地址“{email}”格式不正确。", code="bad_email")
    return email


async def create_body(
    session: AsyncSession,
    name: str,
    kind: BodyKind,
    *,
    escrow: PublicKey,
    unit_name: str | None = None,
    actor_id: str | None,
) -> Body:
    """A new body with its keypair (wrapped to escrow at once); names are unique."""
    name = name.strip()
    if not name:
        raise InvalidInput("机构名称不能为空。")
    if await session.scalar(select(Body.id).where(Body.name == name)) is not None:
        raise Conflict(f"机构“{name}”已存在。")
    unit_id = (await unit_by_name(session, unit_name)).id if unit_name else None
    body, _ = await add_body(session, name, kind, escrow, unit_id=unit_id)
    await append_event(
        session, "body.created", actor_id=actor_id, detail={"body": name, "kind": kind.value}
    )
    return body


def _check_role_and_body(role: Role, body: Body | None) -> None:
    if role is Role.OPERATOR and body is not None:
        raise InvalidInput("热线接线员只录入举报、不阅读案件，不加入任何机构。")
    if role is not Role.OPERATOR and body is None:
        raise InvalidInput("请用 --body 指定该用户所属机构。")
    if role is Role.ADMIN and body is not None and body.kind != BodyKind.OFFICE:
        raise InvalidInput("管理员必须是县委巡察办的成员。")


async def invite_user(
    session: AsyncSession,
    username: str,
    role: Role,
    *,
    email: str,
    body_name: str | None,
    escrow: KeyPair | None = None,
    actor_id: str | None,
) -> tuple[Invitation, bool]:
    """Create a user who sets their own password through a one-time invitation.

    With the escrow key at hand the body key is granted at once; without it the membership
    waits (pending) for a member of the body, or for 巡察办 with the escrow key. Returns the
    invitation and whether the body key was granted.
    """
    if not USERNAME.fullmatch(username):
        raise InvalidInput("用户名须以小写字母开头，由小写字母、数字和 . _ - 组成（2–64 位）。")
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"用户名“{username}”已存在。")
    body = await body_by_name(session, body_name) if body_name else None
    _check_role_and_body(role, body)
    keypair = KeyPair.generate()
    user = User(
        id=new_id(),
        username=username,
        role=role.value,
        email=check_email(email),
        public_key=keypair.public.raw,
        failed_logins=0,
        created_at=now(),
    )
    invitation = seal_for_invitation(user, keypair)
    session.add(user)
    await session.flush()
    granted = False
    if body is not None:
        granted = await _join(session, user, body, escrow)
    await append_event(
        session,
        "user.invited",
        actor_id=actor_id,
        detail={"user": username, "role": role.value, "body": body_name, "granted": granted},
    )
    return invitation, granted


async def _join(session: AsyncSession, user: User, body: Body, escrow: KeyPair | None) -> bool:
    session.add(Membership(user_id=user.id, body_id=body.id, created_at=now()))
    await session.flush()
    if escrow is None:
        return False
    await grant_body_keys(session, user, body, await body_keys_via_escrow(session, body, escrow))
    return True


async def add_member(
    session: AsyncSession,
    username: str,
    body_name: str,
    *,
    escrow: KeyPair | None = None,
    actor_id: str | None,
) -> bool:
    """Make an existing user a member of another body; True when the key was granted now."""
    user = await user_by_username(session, username)
    body = await body_by_name(session, body_name)
    if Role(user.role) is Role.OPERATOR:
        raise InvalidInput("热线接线员不加入机构。")
    exists = await session.scalar(
        select(Membership.id).where(Membership.user_id == user.id, Membership.body_id == body.id)
    )
    if exists is not None:
        raise Conflict(f"“{username}”已是“{body_name}”的成员。")
    granted = await _join(session, user, body, escrow)
    await append_event(
        session,
        "user.membership_added",
        actor_id=actor_id,
        detail={"user": username, "body": body_name, "granted": granted},
    )
    return granted


async def _other_active_admins(session: AsyncSession, user: User) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(User)
            .where(
                User.role == Role.ADMIN.value,
                User.disabled_at.is_(None),
                User.id != user.id,
            )
        )
        or 0
    )


async def disable_user(session: AsyncSession, username: str, *, actor_id: str | None) -> User:
    """Refuse every future login and end every session; the user stays for the audit trail."""
    user = await user_by_username(session, username)
    if user.disabled_at is not None:
        raise Conflict(f"用户“{username}”已停用。")
    if user.id == actor_id:
        raise Conflict("不能停用自己的账号。")
    if Role(user.role) is Role.ADMIN and not await _other_active_admins(session, user):
        raise Conflict("这是最后一个有效的管理员账号，不能停用。")
    user.disabled_at = now()
    # An open invitation must not outlive the account.
    user.invitation_lookup = None
    user.invitation_expires_at = None
    user.private_key_by_invitation = None
    await revoke_sessions(session, user.id)
    await append_event(session, "user.disabled", actor_id=actor_id, detail={"user": username})
    return user


async def reset_second_factor(
    session: AsyncSession, username: str, *, actor_id: str | None
) -> None:
    """Clear the TOTP secret: at the next login the user enrols a new authenticator."""
    user = await user_by_username(session, username)
    user.totp_secret = None
    user.totp_last_step = None
    await revoke_sessions(session, user.id)
    await append_event(session, "user.totp_reset", actor_id=actor_id, detail={"user": username})


async def set_email(
    session: AsyncSession, username: str, email: str, *, actor_id: str | None
) -> None:
    """The staff address notifications go to (never a reporter's)."""
    user = await user_by_username(session, username)
    user.email = check_email(email)
    await append_event(session, "user.email_changed", actor_id=actor_id, detail={"user": username})


async def reissue_invitation(
    session: AsyncSession, username: str, *, escrow: KeyPair | None, actor_id: str | None
) -> tuple[Invitation, bool]:
    """A fresh keypair and invitation: for an invitation that expired, or a user who lost both
    password and recovery code. Returns the invitation and whether body keys were re-granted.

    The old private key is gone for good, so grants to it are deleted. With the escrow key,
    every body key of the user's memberships is granted to the new key at once; without it the
    memberships become pending (a member of the body completes them). Cases stay readable
    because they are sealed to bodies, not to users.
    """
    user = await user_by_username(session, username)
    if user.disabled_at is not None:
        raise Conflict(f"用户“{username}”已停用。")
    keypair = KeyPair.generate()
    await session.execute(delete(BodyKeyGrant).where(BodyKeyGrant.user_id == user.id))
    user.public_key = keypair.public.raw
    user.password_hash = None
    user.private_key_by_password = None
    user.private_key_by_recovery = None
    invitation = seal_for_invitation(user, keypair)
    await revoke_sessions(session, user.id)
    await session.flush()
    bodies = list(
        await session.scalars(
            select(Body)
            .join(Membership, Membership.body_id == Body.id)
            .where(Membership.user_id == user.id)
            .order_by(Body.name)
        )
    )
    if escrow is not None:
        for body in bodies:
            keys = await body_keys_via_escrow(session, body, escrow)
            await grant_body_keys(session, user, body, keys)
    await append_event(
        session,
        "user.invitation_reissued",
        actor_id=actor_id,
        detail={
            "user": username,
            "granted": escrow is not None,
            "bodies": [b.name for b in bodies],
        },
    )
    if escrow is not None:
        # Every opening of the escrow key is on the record, whichever door it came through;
        # its key id only, never the key.
        await append_event(
            session,
            "keys.escrow_used",
            actor_id=actor_id,
            detail={"key_id": escrow.key_id, "purpose": "recovery", "user": username},
        )
    return invitation, escrow is not None


class UserState(StrEnum):
    """Where a user stands, as `/admin/users` and `xuncha user list` both show it."""

    ACTIVE = "active"
    INVITED = "invited"  # an invitation that still works
    INVITATION_EXPIRED = "invitation_expired"  # never accepted; ran out or was purged
    DISABLED = "disabled"

    @property
    def label(self) -> str:
        return USER_STATE_LABELS[self]


USER_STATE_LABELS = {
    UserState.ACTIVE: "正常",
    UserState.INVITED: "待接受邀请",
    UserState.INVITATION_EXPIRED: "邀请已过期",
    UserState.DISABLED: "已停用",
}


def user_state(user: User, at: datetime | None = None) -> UserState:
    """The one rule for a user's state; an invitation's expiry is judged at ``at`` (now)."""
    if user.disabled_at is not None:
        return UserState.DISABLED
    invitation = invitation_state(user, at)
    if invitation is InvitationState.EXPIRED:
        return UserState.INVITATION_EXPIRED
    if invitation is InvitationState.PENDING:
        return UserState.INVITED
    return UserState.ACTIVE


@dataclass(frozen=True)
class UserLine:
    """One user as an administrator lists them (no secrets, no key material)."""

    username: str
    role: str
    bodies: tuple[str, ...]
    state: UserState


async def user_overview(session: AsyncSession, *, at: datetime | None = None) -> list[UserLine]:
    names: dict[str, list[str]] = {}
    for user_id, body_name in await session.execute(
        select(Membership.user_id, Body.name)
        .join(Body, Body.id == Membership.body_id)
        .order_by(Body.name)
    ):
        names.setdefault(user_id, []).append(body_name)
    at = at or now()
    return [
        UserLine(user.username, user.role, tuple(names.get(user.id, ())), user_state(user, at))
        for user in await session.scalars(select(User).order_by(User.username))
    ]
