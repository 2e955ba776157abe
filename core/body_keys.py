"""Body keys after set-up: granting them to members, rotating them, and the key file fingerprint.

A body's private key reaches a member only as a wrap to the member's public key
(`crypto.keys.wrap_body_key`). Wrapping needs the body's private key in hand, so a grant is
made by someone who holds it: 巡察办 through the escrow private key (kept offline, brought in
for the act), a logged-in member of the body, or the code that has just generated the key
(init, rotation). A membership that lacks a grant for any generation of the body's key is
*pending*: without the current key the member sees no new case, without a retired one none of
the cases sealed to it, until someone holding that key completes the grant
(docs/key-ceremony.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import append_event
from core.county import add_body_key, body_by_name, now
from core.errors import InvalidInput
from core.models import Body, BodyKey, BodyKeyGrant, Membership, User
from crypto import (
    DecryptionFailed,
    KeyFormatError,
    KeyPair,
    PublicKey,
    ServerSecrets,
    read_escrow_armour,
    unwrap_body_key,
    wrap_body_key,
)


def key_file_fingerprint(secrets: ServerSecrets) -> str:
    """A short, stable digest of the key file's secrets, to check that instances share one file.

    One-way (SHA-256 under a purpose label) over the canonical JSON: showing it reveals nothing
    that would help guess the pepper or the index key. Cookie keys are left out, so rotating
    them does not change it.
    """
    cookie_free = ServerSecrets(
        pepper=secrets.pepper,
        site_salt=secrets.site_salt,
        index_key=secrets.index_key,
        cookie_keys=(bytes(32),),
        escrow_public_key=secrets.escrow_public_key,
    )
    canonical = cookie_free.to_json().encode("utf-8")
    digest = hashlib.sha256(b"xuncha/key-file-fingerprint/v1\x00" + canonical).hexdigest()[:32]
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4)).upper()


def read_escrow_key(armour: str, secrets: ServerSecrets) -> KeyPair:
    """Parse the escrow armour an operator brings in, and check it is this installation's."""
    try:
        escrow = read_escrow_armour(armour)
    except KeyFormatError:
        raise InvalidInput("托管私钥格式不正确（请核对校验码）。", code="bad_escrow_key") from None
    if escrow.key_id != secrets.escrow_public_key.key_id:
        raise InvalidInput("该托管私钥不属于本系统（密钥编号不符）。", code="wrong_escrow_key")
    return escrow


async def body_keys_via_escrow(session: AsyncSession, body: Body, escrow: KeyPair) -> list[KeyPair]:
    """Every key generation of ``body``, opened through its escrow grants."""
    rows = (
        await session.execute(
            select(BodyKeyGrant.wrapped)
            .join(BodyKey, BodyKey.id == BodyKeyGrant.body_key_id)
            .where(BodyKey.body_id == body.id, BodyKeyGrant.user_id.is_(None))
            .order_by(BodyKey.created_at)
        )
    ).all()
    try:
        return [unwrap_body_key(wrapped, body.id, escrow) for (wrapped,) in rows]
    except DecryptionFailed:
        raise InvalidInput("无法用该托管私钥打开机构密钥。", code="wrong_escrow_key") from None


async def body_keys_via_member(
    session: AsyncSession, body: Body, member: User, member_key: KeyPair
) -> list[KeyPair]:
    """Every key generation of ``body`` the member holds a grant for (a logged-in member)."""
    rows = (
        await session.execute(
            select(BodyKeyGrant.wrapped)
            .join(BodyKey, BodyKey.id == BodyKeyGrant.body_key_id)
            .where(BodyKey.body_id == body.id, BodyKeyGrant.user_id == member.id)
            .order_by(BodyKey.created_at)
        )
    ).all()
    return [unwrap_body_key(wrapped, body.id, member_key) for (wrapped,) in rows]


async def grant_body_keys(
    session: AsyncSession, user: User, body: Body, keys: Sequence[KeyPair]
) -> int:
    """Wrap each of ``keys`` to ``user`` unless already granted; return how many were added."""
    if user.public_key is None:
        raise InvalidInput(f"用户“{user.username}”还没有密钥。", code="no_user_key")
    member = PublicKey(user.public_key)
    held = set(
        await session.scalars(
            select(BodyKeyGrant.body_key_id).where(BodyKeyGrant.user_id == user.id)
        )
    )
    added = 0
    for keypair in keys:
        if keypair.key_id in held:
            continue
        session.add(
            BodyKeyGrant(
                body_key_id=keypair.key_id,
                user_id=user.id,
                wrapped=wrap_body_key(keypair, body.id, member),
                created_at=now(),
            )
        )
        added += 1
    await session.flush()
    return added


@dataclass(frozen=True)
class PendingGrant:
    """A member of a body who lacks a grant for one of the body's key generations."""

    username: str
    body_name: str


async def pending_grants(session: AsyncSession, body: Body | None = None) -> list[PendingGrant]:
    """Active members who lack a grant for some key generation of their body.

    Every generation counts, not only the current one: rotation grants the new key to a member
    whose grant was pending, who must still stay listed until the old cases open for them too.
    """
    missing_key = (
        select(BodyKey.id)
        .where(BodyKey.body_id == Body.id)
        .where(
            ~select(BodyKeyGrant.id)
            .where(BodyKeyGrant.body_key_id == BodyKey.id, BodyKeyGrant.user_id == User.id)
            .correlate(BodyKey, User)  # User is two levels up: auto-correlation stops at one
            .exists()
        )
        .exists()
    )
    query = (
        select(User.username, Body.name)
        .join(Membership, Membership.user_id == User.id)
        .join(Body, Body.id == Membership.body_id)
        .where(User.disabled_at.is_(None), missing_key)
        .order_by(Body.name, User.username)
    )
    if body is not None:
        query = query.where(Body.id == body.id)
    return [
        PendingGrant(username, body_name) for username, body_name in await session.execute(query)
    ]


async def complete_pending_grants(
    session: AsyncSession,
    body: Body,
    keys: Sequence[KeyPair],
    *,
    actor_id: str | None,
) -> list[str]:
    """Grant ``keys`` (opened by escrow or by a member) to every pending member of ``body``."""
    done = []
    for pending in await pending_grants(session, body):
        user = await session.scalar(select(User).where(User.username == pending.username))
        assert user is not None  # noqa: S101 — just listed in this transaction
        if await grant_body_keys(session, user, body, keys):
            done.append(user.username)
            await append_event(
                session,
                "body.key_granted",
                actor_id=actor_id,
                detail={"body": body.name, "user": user.username},
            )
    return done


@dataclass(frozen=True)
class Rotation:
    body_name: str
    retired_key_ids: tuple[str, ...]
    new_key_id: str
    granted_to: tuple[str, ...]


async def rotate_body_key(
    session: AsyncSession, body_name: str, *, escrow: PublicKey, actor_id: str | None
) -> Rotation:
    """Give ``body`` a fresh keypair for new cases; old generations stay for old cases.

    Retiring a key only stops new cases from being sealed to it: its grants remain, so members
    still open what was sealed before. The new private key exists only in this call, where it
    is wrapped to the escrow key and to every current member with a public key, so rotation
    needs neither the old key nor the escrow private key.
    """
    body = await body_by_name(session, body_name)
    moment = now()
    active = list(
        await session.scalars(
            select(BodyKey).where(BodyKey.body_id == body.id, BodyKey.retired_at.is_(None))
        )
    )
    for key in active:
        key.retired_at = moment
    keypair = await add_body_key(session, body, escrow)
    members = list(
        await session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.body_id == body.id,
                User.disabled_at.is_(None),
                User.public_key.is_not(None),
            )
            .order_by(User.username)
        )
    )
    for member in members:
        await grant_body_keys(session, member, body, [keypair])
    rotation = Rotation(
        body.name,
        tuple(k.id for k in active),
        keypair.key_id,
        tuple(m.username for m in members),
    )
    await append_event(
        session,
        "body.key_rotated",
        actor_id=actor_id,
        detail={
            "body": body.name,
            "retired": list(rotation.retired_key_ids),
            "new_key": rotation.new_key_id,
        },
    )
    return rotation
