"""Invitations (一次性邀请) and the two recovery paths for a user who lost the password.

An invitation is a random 256-bit token shown once (printed by the CLI or the console). The
database keeps only SHA-256 of it (``User.invitation_lookup``) and an expiry. The user's keypair
is generated when the invitation is made, so an administrator holding a body key can grant it
at once; until acceptance the private key is sealed under a key derived from the token
(``User.private_key_by_invitation``). Accepting proves the token, sets the password (≥12
characters), rewraps the private key under it and issues a one-time recovery code.

Why seal the key under the token: whoever holds the token may take over the account anyway,
so this adds no new power to the token, while a database dump alone (no token) opens nothing.

An invitation nobody accepted is purged once it expires (:func:`purge_expired_invitations`, run
by the worker and by ``xuncha user purge-invitations``): the lookup, the expiry and the sealed
key go, so an old token stops being even a hash in the database. The user stays (the audit
names them) and can be invited again (``core.staff_admin.reissue_invitation``).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import append_event
from core.county import now
from core.errors import Forbidden, InvalidInput, NotFound
from core.models import StaffSession, User, as_utc
from crypto import (
    Argon2Params,
    DecryptionFailed,
    KeyPair,
    RecoveryCodeFormatError,
    generate_recovery_code,
    hash_password,
    open_secret,
    seal_secret,
    unwrap_user_key_with_recovery_code,
    wrap_user_key_with_password,
    wrap_user_key_with_recovery_code,
)

INVITATION_LIFETIME = timedelta(days=7)
MIN_PASSWORD_LENGTH = 12
_TOKEN_BYTES = 32
_SEAL_PURPOSE = "invitation-user-key/"


class RecoveryFailed(Forbidden):
    """One answer for an unknown user, a disabled one, one without a code and a wrong code."""

    code = "recovery_failed"

    def __init__(self) -> None:
        super().__init__("用户名或恢复码不正确。")


class InvitationState(StrEnum):
    """Where a user stands with invitations (for the users page and re-inviting)."""

    ACCEPTED = "accepted"  # has a password: no invitation to renew
    PENDING = "pending"  # an invitation that still works
    EXPIRED = "expired"  # never accepted and the invitation ran out (or was purged)


def invitation_state(user: User, at: datetime | None = None) -> InvitationState:
    if user.password_hash is not None:
        return InvitationState.ACCEPTED
    expires = user.invitation_expires_at
    if user.invitation_lookup is None or expires is None or as_utc(expires) < (at or now()):
        return InvitationState.EXPIRED
    return InvitationState.PENDING


@dataclass(frozen=True)
class Invitation:
    """What the inviter hands over, once: the token is never stored."""

    username: str
    token: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class Enrolment:
    """The result of accepting an invitation or recovering: a recovery code shown once."""

    username: str
    recovery_code: str = field(repr=False)


def _normalise_token(token: str) -> str:
    return "".join(token.split())


def invitation_lookup(token: str) -> bytes:
    return hashlib.sha256(b"xuncha/invitation-lookup/v1\x00" + token.encode("utf-8")).digest()


def _token_key(token: str) -> bytes:
    # HMAC keyed by the 256-bit token: a PRF, so the sealing key is independent of the lookup.
    return hmac.new(token.encode("utf-8"), b"xuncha/invitation-key/v1", hashlib.sha256).digest()


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符。", code="weak_password")
    if len(set(password)) < 4:
        raise InvalidInput("密码过于简单。", code="weak_password")


def seal_for_invitation(user: User, keypair: KeyPair) -> Invitation:
    """Point ``user`` at a fresh invitation for ``keypair``; the caller stores the user."""
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    expires_at = now() + INVITATION_LIFETIME
    user.invitation_lookup = invitation_lookup(token)
    user.invitation_expires_at = expires_at
    user.private_key_by_invitation = seal_secret(
        _token_key(token), _SEAL_PURPOSE + user.id, keypair.private
    )
    return Invitation(user.username, token, expires_at)


async def _user_for_token(session: AsyncSession, token: str) -> User:
    user = await session.scalar(
        select(User).where(User.invitation_lookup == invitation_lookup(token))
    )
    # One answer for unknown, expired and disabled: an invitation either works or it does not.
    refused = Forbidden("邀请码无效或已过期，请联系县委巡察办重新邀请。", code="bad_invitation")
    if user is None or user.disabled_at is not None or user.private_key_by_invitation is None:
        raise refused
    if user.invitation_expires_at is None or as_utc(user.invitation_expires_at) < now():
        raise refused
    return user


def _password_blobs(
    user_id: str, keypair: KeyPair, password: str, params: Argon2Params, pepper: bytes
) -> tuple[str, bytes]:
    """The slow part (Argon2id twice): a peppered hash and the key wrapped under the password."""
    return (
        hash_password(password, params, pepper=pepper),
        wrap_user_key_with_password(keypair, user_id, password, params, pepper=pepper),
    )


async def _set_credentials(
    session: AsyncSession,
    user: User,
    keypair: KeyPair,
    password: str,
    *,
    params: Argon2Params,
    pepper: bytes,
    pool: Executor | None,
) -> str:
    """Password hash, password-wrapped key and a fresh recovery code; sessions revoked."""
    blobs = functools.partial(_password_blobs, user.id, keypair, password, params, pepper)
    if pool is None:
        password_hash, wrapped = blobs()
    else:
        password_hash, wrapped = await asyncio.get_running_loop().run_in_executor(pool, blobs)
    recovery = generate_recovery_code()
    user.password_hash = password_hash
    user.private_key_by_password = wrapped
    user.private_key_by_recovery = wrap_user_key_with_recovery_code(keypair, user.id, recovery)
    user.public_key = keypair.public.raw
    user.invitation_lookup = None
    user.invitation_expires_at = None
    user.private_key_by_invitation = None
    user.failed_logins = 0
    user.locked_until = None
    await revoke_sessions(session, user.id)
    await session.flush()
    return recovery


async def accept_invitation(
    session: AsyncSession,
    token: str,
    password: str,
    *,
    params: Argon2Params,
    pepper: bytes,
    pool: Executor | None = None,
) -> Enrolment:
    """Set the password of an invited (or escrow-recovered) user; return their recovery code."""
    token = _normalise_token(token)
    user = await _user_for_token(session, token)
    check_new_password(password)
    assert user.private_key_by_invitation is not None  # noqa: S101 — checked in _user_for_token
    try:
        private = open_secret(
            _token_key(token), _SEAL_PURPOSE + user.id, user.private_key_by_invitation
        )
    except DecryptionFailed:
        raise Forbidden("邀请码无效或已过期。", code="bad_invitation") from None
    keypair = KeyPair(private)
    recovery = await _set_credentials(
        session, user, keypair, password, params=params, pepper=pepper, pool=pool
    )
    await append_event(session, "user.invitation_accepted", actor_id=user.id)
    return Enrolment(user.username, recovery)


async def recover_with_code(
    session: AsyncSession,
    username: str,
    code: str,
    new_password: str,
    *,
    params: Argon2Params,
    pepper: bytes,
    pool: Executor | None = None,
) -> Enrolment:
    """A user who lost the password opens their key with the recovery code and sets a new
    password; the used code is replaced by a new one (each code works once)."""
    check_new_password(new_password)
    user = await session.scalar(select(User).where(User.username == username))
    if user is None or user.disabled_at is not None or user.private_key_by_recovery is None:
        raise RecoveryFailed
    try:
        keypair = unwrap_user_key_with_recovery_code(user.private_key_by_recovery, user.id, code)
    except (DecryptionFailed, RecoveryCodeFormatError):
        # No audit event here: the caller's transaction rolls back on this error. The console
        # counts the failure against the login throttle, which writes its own event.
        raise RecoveryFailed from None
    recovery = await _set_credentials(
        session, user, keypair, new_password, params=params, pepper=pepper, pool=pool
    )
    # The second factor stays: the recovery code replaces the password, not the phone.
    await append_event(session, "user.recovered", actor_id=user.id, detail={"path": "code"})
    return Enrolment(user.username, recovery)


async def purge_expired_invitations(
    session: AsyncSession, *, at: datetime | None = None, actor_id: str | None = None
) -> list[str]:
    """Clear every invitation that expired unused; return the usernames, audited once each.

    Rows are locked with SKIP LOCKED, so two workers on PostgreSQL never purge (and audit) the
    same invitation twice; what one clears no longer matches for the other.
    """
    cutoff = at or now()
    users = list(
        await session.scalars(
            select(User)
            .where(User.invitation_expires_at.is_not(None), User.invitation_expires_at < cutoff)
            .order_by(User.username)
            .with_for_update(skip_locked=True)
        )
    )
    for user in users:
        user.invitation_lookup = None
        user.invitation_expires_at = None
        user.private_key_by_invitation = None
        await append_event(
            session,
            "user.invitation_expired",
            actor_id=actor_id,
            detail={"user": user.username},
        )
    await session.flush()
    return [user.username for user in users]


async def revoke_sessions(session: AsyncSession, user_id: str) -> None:
    await session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now())
    )


async def user_by_username(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"没有用户名为“{username}”的用户。", code="no_user")
    return user
