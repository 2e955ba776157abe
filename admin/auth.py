"""Staff login: Argon2id password, TOTP second factor, throttling, keys at first login.

One generic failure for every wrong input (unknown user, wrong password, wrong or replayed
code, missing code), so an attacker learns nothing about which part was wrong. An unknown
username still costs one Argon2id run, so timing does not tell either.

Failures count against the login throttle (``admin.throttle``), which password recovery
shares.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from admin.sessions import SessionToken, start_session
from admin.throttle import LoginThrottle
from core.audit import append_event
from core.county import now
from core.demo import DEMO_MARK, USERS
from core.errors import XunchaError
from core.models import Meta, User
from core.runtime import Runtime
from crypto import (
    DecryptionFailed,
    KeyPair,
    generate_recovery_code,
    hash_password,
    open_secret,
    password_needs_rehash,
    seal_secret,
    unwrap_user_key_with_password,
    verify_password,
    verify_totp,
    wrap_user_key_with_password,
    wrap_user_key_with_recovery_code,
)
from crypto.user_keys import PEPPERED_PASSWORD_WRAP_FORMAT

_TOTP_PURPOSE = "totp-secret/"
# Unknown users are checked against a hash of this, made with the configured parameters at
# start-up, so that an unknown username costs what a real check costs.
_DUMMY_PASSWORD = "xuncha-dummy-password-never-valid"  # noqa: S105 — matches nothing real
T = TypeVar("T")


class LoginFailed(XunchaError):
    code = "login_failed"
    status = 401

    def __init__(self) -> None:
        super().__init__("用户名、密码或动态验证码不正确。")


@dataclass(frozen=True)
class LoginOutcome:
    user: User
    token: SessionToken
    enrolled: bool  # False: a real user without 2FA, who may only enrol
    recovery_code: str | None = field(default=None, repr=False)  # shown once, at first login


async def is_demo_user(session: AsyncSession, user: User) -> bool:
    """Demo users (SPEC §7) are the fixed usernames of a demo county; they have no 2FA."""
    if user.username not in {name for name, _, _ in USERS}:
        return False
    return await session.get(Meta, DEMO_MARK) is not None


def seal_totp_secret(runtime: Runtime, user_id: str, secret: bytes) -> bytes:
    """TOTP secrets are sealed under the key file's pepper: a database dump alone has none."""
    return seal_secret(runtime.secrets.pepper, _TOTP_PURPOSE + user_id, secret)


def open_totp_secret(runtime: Runtime, user: User) -> bytes | None:
    if user.totp_secret is None:
        return None
    return open_secret(runtime.secrets.pepper, _TOTP_PURPOSE + user.id, user.totp_secret)


class Authenticator:
    """Checks credentials and opens sessions; one per app (holds the app's login throttle)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.throttle = LoginThrottle(runtime)
        self._dummy_hash = hash_password(_DUMMY_PASSWORD, runtime.settings.password_kdf)

    async def _in_pool(self, work: Callable[[], T]) -> T:
        """Argon2id runs in the bounded KDF pool, never on the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.runtime.kdf_pool, work)

    async def login(self, username: str, password: str, code: str | None) -> LoginOutcome:
        at = now()
        async with self.runtime.db.reading() as session:
            user = await session.scalar(select(User).where(User.username == username))
            demo = user is not None and await is_demo_user(session, user)
        if user is None or user.disabled_at is not None or user.password_hash is None:
            await self._in_pool(lambda: verify_password(password, self._dummy_hash))
            self.throttle.refuse_if_throttled(username, None, at)
            await self.throttle.count_failure(username, None)
            raise LoginFailed
        self.throttle.refuse_if_throttled(username, user, at)
        peppered = await self.password_matches(user, password)
        code_ok, step = self._check_code(user, code, at)
        if peppered is None or not code_ok:
            await self.throttle.count_failure(username, user)
            raise LoginFailed
        keypair, recovery = await self._user_keys(user, password)
        token: SessionToken | None = None
        async with self.runtime.db.transaction() as session:
            if await self._claim_totp_step(session, user.id, step):
                await self._update_credentials(session, user, password, keypair, recovery, peppered)
                token = await start_session(session, user.id, keypair)
                await append_event(
                    session, "staff.login", actor_id=user.id, detail={"first": recovery is not None}
                )
        if token is None:  # the same code was just used by a concurrent login: a replay
            await self.throttle.count_failure(username, user)
            raise LoginFailed
        enrolled = demo or user.totp_secret is not None
        return LoginOutcome(user, token, enrolled, recovery)

    async def password_matches(self, user: User, password: str) -> bool | None:
        """True/False: matched with/without the pepper; None: wrong password."""
        phc = user.password_hash or self._dummy_hash
        pepper = self.runtime.secrets.pepper
        blob = user.private_key_by_password
        tries = [True] if blob and blob[0] == PEPPERED_PASSWORD_WRAP_FORMAT else [False]
        if blob is None:
            tries = [True, False]  # an invited user: the hash alone says nothing; try both
        for with_pepper in tries:
            ok = await self._in_pool(
                partial(verify_password, password, phc, pepper=pepper if with_pepper else None)
            )
            if ok:
                return with_pepper
        return None

    def _check_code(self, user: User, code: str | None, at: datetime) -> tuple[bool, int | None]:
        """(passed, matched TOTP step); a user without 2FA passes with no step."""
        secret = open_totp_secret(self.runtime, user)
        if secret is None:
            return True, None
        step = verify_totp(secret, code or "", at.timestamp(), last_used_step=user.totp_last_step)
        return step is not None, step

    @staticmethod
    async def _claim_totp_step(session: AsyncSession, user_id: str, step: int | None) -> bool:
        """Store the used step; a concurrent login with the same code loses (no replay)."""
        if step is None:
            return True
        result = await session.execute(
            update(User)
            .where(User.id == user_id)
            .where(or_(User.totp_last_step.is_(None), User.totp_last_step < step))
            .values(totp_last_step=step)
        )
        return bool(getattr(result, "rowcount", 0))

    async def _user_keys(self, user: User, password: str) -> tuple[KeyPair, str | None]:
        """Unwrap the user's keypair; at the first login, generate it (and a recovery code)."""
        pepper = self.runtime.secrets.pepper
        if user.private_key_by_password is not None:
            blob = user.private_key_by_password
            try:
                return await self._in_pool(
                    lambda: unwrap_user_key_with_password(blob, user.id, password, pepper=pepper)
                ), None
            except DecryptionFailed:
                raise LoginFailed from None
        return KeyPair.generate(), generate_recovery_code()

    async def _update_credentials(
        self,
        session: AsyncSession,
        user: User,
        password: str,
        keypair: KeyPair,
        recovery: str | None,
        peppered: bool,
    ) -> None:
        values: dict[str, object] = {"failed_logins": 0, "locked_until": None}
        params = self.runtime.settings.password_kdf
        stale = not peppered or password_needs_rehash(user.password_hash or "", params)
        if recovery is not None or stale:
            values.update(await self.password_values(user.id, password, keypair))
        if recovery is not None:
            values["public_key"] = keypair.public.raw
            values["private_key_by_recovery"] = wrap_user_key_with_recovery_code(
                keypair, user.id, recovery
            )
            await append_event(session, "staff.keys_generated", actor_id=user.id)
        await session.execute(update(User).where(User.id == user.id).values(**values))

    async def password_values(
        self, user_id: str, password: str, keypair: KeyPair
    ) -> dict[str, object]:
        """A fresh peppered hash and the keypair rewrapped under the password."""
        pepper = self.runtime.secrets.pepper
        params = self.runtime.settings.password_kdf

        def work() -> dict[str, object]:
            return {
                "password_hash": hash_password(password, params, pepper=pepper),
                "private_key_by_password": wrap_user_key_with_password(
                    keypair, user_id, password, params, pepper=pepper
                ),
            }

        return await self._in_pool(work)
