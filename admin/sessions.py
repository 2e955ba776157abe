"""Staff sessions (SPEC §3): a server-side row plus a signed cookie holding the session secret.

The cookie (``__Host-``, Secure, HttpOnly, SameSite=Strict) carries ``session id`` and a
256-bit ``session secret``, signed with itsdangerous under the key file's cookie keys (newest
first there; itsdangerous wants newest last). The row stores only a hash of the secret and the
user's private key sealed under the secret: a database dump alone cannot open the key, and a
stolen cookie alone is useless once the row is revoked or expired. Any instance sharing the
database and the key file can serve the session.

Timeouts: 30 minutes idle, 8 hours absolute. Logout revokes the row; a password change revokes
every row of the user. CSRF tokens are derived from the session secret (HMAC), so they need no
storage and die with the session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from itsdangerous import BadSignature, Signer
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.county import now
from core.models import StaffSession, as_utc, new_id
from crypto import DecryptionFailed, KeyPair, open_secret, seal_secret

COOKIE_NAME = "__Host-xuncha-staff"
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=8)
# last_seen_at is written at most this often, so reading pages does not write on every request.
SEEN_RESOLUTION = timedelta(minutes=1)
_SECRET_BYTES = 32
_KEY_PURPOSE = "session-user-key/"


@dataclass(frozen=True)
class SessionToken:
    """What the cookie carries. ``secret`` never reaches the database or a log."""

    session_id: str
    secret: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> SessionToken:
        return cls(new_id(), secrets.token_bytes(_SECRET_BYTES))


class CookieCodec:
    """Signs and verifies cookie values; rotation: every key verifies, the newest signs."""

    def __init__(self, cookie_keys_newest_first: tuple[bytes, ...]) -> None:
        self._signer = Signer(
            list(reversed(cookie_keys_newest_first)),
            salt=b"xuncha/staff-session/v1",
            key_derivation="hmac",
            digest_method=hashlib.sha256,
        )

    def encode(self, token: SessionToken) -> str:
        secret = base64.urlsafe_b64encode(token.secret).decode("ascii").rstrip("=")
        return self._signer.sign(f"{token.session_id}:{secret}").decode("ascii")

    def decode(self, value: str | None) -> SessionToken | None:
        if not value:
            return None
        try:
            payload = self._signer.unsign(value).decode("ascii")
        except (BadSignature, UnicodeError):
            return None
        session_id, sep, secret_text = payload.partition(":")
        if not sep:
            return None
        try:
            secret = base64.urlsafe_b64decode(secret_text + "=" * (-len(secret_text) % 4))
        except ValueError:
            return None
        if len(secret) != _SECRET_BYTES:
            return None
        return SessionToken(session_id, secret)


def secret_check(secret: bytes) -> bytes:
    # The secret is 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(b"xuncha/session-check/v1\x00" + secret).digest()


def csrf_token(token: SessionToken) -> str:
    mac = hmac.new(token.secret, b"xuncha/csrf/v1", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def csrf_valid(token: SessionToken, offered: str | None) -> bool:
    return offered is not None and hmac.compare_digest(csrf_token(token), offered)


async def start_session(
    session: AsyncSession, user_id: str, keypair: KeyPair | None
) -> SessionToken:
    """Write a new session row for ``user_id`` and return the token for its cookie."""
    token = SessionToken.generate()
    moment = now()
    sealed = (
        seal_secret(_key(token), _KEY_PURPOSE + token.session_id, keypair.private)
        if keypair is not None
        else None
    )
    session.add(
        StaffSession(
            id=token.session_id,
            user_id=user_id,
            secret_check=secret_check(token.secret),
            private_key_sealed=sealed,
            created_at=moment,
            last_seen_at=moment,
        )
    )
    await session.flush()
    return token


def _key(token: SessionToken) -> bytes:
    return hashlib.sha256(b"xuncha/session-key/v1\x00" + token.secret).digest()


def session_alive(row: StaffSession, token: SessionToken, at: datetime) -> bool:
    """Valid secret, not revoked, not idle for 30 minutes, not older than 8 hours."""
    if row.revoked_at is not None:
        return False
    if not hmac.compare_digest(row.secret_check, secret_check(token.secret)):
        return False
    if at - as_utc(row.last_seen_at) > IDLE_TIMEOUT:
        return False
    return at - as_utc(row.created_at) <= ABSOLUTE_TIMEOUT


async def load_session(session: AsyncSession, token: SessionToken) -> StaffSession | None:
    row = await session.get(StaffSession, token.session_id)
    if row is None or not session_alive(row, token, now()):
        return None
    return row


def needs_touch(row: StaffSession, at: datetime) -> bool:
    return at - as_utc(row.last_seen_at) >= SEEN_RESOLUTION


async def touch_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(
        update(StaffSession)
        .where(StaffSession.id == session_id, StaffSession.revoked_at.is_(None))
        .values(last_seen_at=now())
    )


def session_keypair(row: StaffSession, token: SessionToken) -> KeyPair | None:
    """The user's keypair, opened with the cookie's secret (None if the row holds none)."""
    if row.private_key_sealed is None:
        return None
    try:
        raw = open_secret(_key(token), _KEY_PURPOSE + row.id, row.private_key_sealed)
    except DecryptionFailed:
        return None
    return KeyPair(raw)


async def revoke_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(
        update(StaffSession)
        .where(StaffSession.id == session_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now(), private_key_sealed=None)
    )


async def revoke_user_sessions(
    session: AsyncSession, user_id: str, *, keep: str | None = None
) -> None:
    """Revoke every live session of a user (password change, disabling), except ``keep``."""
    query = update(StaffSession).where(
        StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    await session.execute(query.values(revoked_at=now(), private_key_sealed=None))
