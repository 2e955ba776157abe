"""The login throttle, shared by every way a secret is tried: the password at login, and the
recovery code at `/recover` and at `xuncha user recover NAME --recovery-code`.

Per account: after 5 failures the account waits 1 minute, and every further failure doubles
the wait (cap 1 hour); a successful login resets it. A guessed recovery code costs what a
guessed password costs, on the same counter, so two doors do not give twice the guesses. Every
counted failure of a real account is an audit event (``staff.login_failed``,
``user.recovery_failed``) naming the account and the count, never what was typed.

Unknown (and disabled) usernames are throttled the same way in memory, so a lock-out does not
confirm that an account exists. That memory belongs to one process; the command line, a new
process each time, keeps only the per-account counter, which lives in the database.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from core.audit import append_event
from core.county import now
from core.errors import XunchaError
from core.invitations import Enrolment, RecoveryFailed, recover_with_code
from core.models import User, as_utc
from core.runtime import Runtime

FREE_FAILURES = 5
FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=1)
_UNKNOWN_TRACKED = 10_000


class LoginThrottled(XunchaError):
    code = "too_many_attempts"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"尝试次数过多，请在 {retry_after} 秒后再试。")
        self.retry_after = retry_after


def throttle_delay(failures: int) -> timedelta | None:
    """The wait after ``failures`` consecutive failures (None: no wait yet)."""
    if failures < FREE_FAILURES:
        return None
    doublings = min(failures - FREE_FAILURES, 10)  # bounded so the timedelta cannot overflow
    return min(FIRST_DELAY * (1 << doublings), MAX_DELAY)


@dataclass
class _UnknownThrottle:
    """The same throttle for usernames that do not exist (in memory, bounded)."""

    entries: OrderedDict[str, tuple[int, datetime | None]] = field(default_factory=OrderedDict)

    def locked_until(self, username: str) -> datetime | None:
        return self.entries.get(username, (0, None))[1]

    def fail(self, username: str, at: datetime) -> None:
        count = self.entries.pop(username, (0, None))[0] + 1
        delay = throttle_delay(count)
        self.entries[username] = (count, at + delay if delay else None)
        while len(self.entries) > _UNKNOWN_TRACKED:
            self.entries.popitem(last=False)


class LoginThrottle:
    """Refuses while an account waits and counts failures; one per app (or per command)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._unknown = _UnknownThrottle()

    def refuse_if_throttled(
        self, username: str, user: User | None, at: datetime | None = None
    ) -> None:
        """Raise LoginThrottled while ``username`` waits; ``user`` None for an unknown or
        disabled name, throttled in memory."""
        locked = self._unknown.locked_until(username) if user is None else user.locked_until
        at = at or now()
        if locked is not None and as_utc(locked) > at:
            raise LoginThrottled(int((as_utc(locked) - at).total_seconds()) + 1)

    async def count_failure(
        self, username: str, user: User | None, kind: str = "staff.login_failed"
    ) -> None:
        """One failure on the account's counter, audited as ``kind`` (in its own transaction,
        since the attempt's transaction rolls back)."""
        if user is None:
            self._unknown.fail(username, now())
            return
        async with self.runtime.db.transaction() as session:
            failures = (
                await session.scalar(select(User.failed_logins).where(User.id == user.id)) or 0
            ) + 1
            delay = throttle_delay(failures)
            await session.execute(
                update(User)
                .where(User.id == user.id)
                .values(failed_logins=failures, locked_until=now() + delay if delay else None)
            )
            await append_event(session, kind, actor_id=user.id, detail={"failures": failures})

    async def account(self, username: str) -> User | None:
        """The account whose counter an attempt on ``username`` uses; None: unknown or
        disabled, counted in memory."""
        async with self.runtime.db.reading() as session:
            user = await session.scalar(select(User).where(User.username == username))
        return None if user is None or user.disabled_at is not None else user


async def recover_with_code_throttled(
    throttle: LoginThrottle,
    username: str,
    code: str,
    new_password: str,
) -> Enrolment:
    """`core.invitations.recover_with_code` behind the login throttle: refused while the
    account waits, and a wrong code counted and audited as ``user.recovery_failed``.

    The console's `/recover` and `xuncha user recover --recovery-code` both come through here.
    """
    runtime = throttle.runtime
    user = await throttle.account(username)
    throttle.refuse_if_throttled(username, user)
    try:
        async with runtime.db.transaction() as session:
            return await recover_with_code(
                session,
                username,
                code,
                new_password,
                params=runtime.settings.password_kdf,
                pepper=runtime.secrets.pepper,
                pool=runtime.kdf_pool,
            )
    except RecoveryFailed:
        await throttle.count_failure(username, user, "user.recovery_failed")
        raise
