"""Abuse limits for the public app, held in memory only.

A client is known here only by ``HMAC(window key, address)``. The window key is
random, lives in this process's memory and is replaced (with every counter) when
the window ends, so no address — and no stable pseudonym of one — is ever written
anywhere or survives the hour. The price is a fixed-window limit: a client can
spend its budget at the end of one window and again at the start of the next.

Behind Tor every visitor arrives from the onion service's local address, so the
per-client limits then act as one shared budget (docs/web-channel.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import XunchaError

HOUR = 3600.0
MINUTE = 60.0


class RateLimited(XunchaError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str = "操作过于频繁，请稍后再试。") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Limits:
    # Every report and every receipt check costs one receipt derivation; they share this budget
    # (SPEC §3), so even a holder of a valid receipt cannot monopolise the KDF pool.
    submissions_per_hour: int
    failed_checks_per_hour: int
    failed_checks_per_minute: int  # across all clients


class _Window:
    """Counters that all vanish, with the key that tags them, when the window ends."""

    def __init__(self, length: float, clock: Callable[[], float]) -> None:
        self.length = length
        self.clock = clock
        self.ends_at = 0.0
        self.key = b""
        self.counts: dict[bytes, int] = {}

    def _roll(self) -> None:
        moment = self.clock()
        if moment >= self.ends_at:
            self.ends_at = moment + self.length
            self.key = secrets.token_bytes(32)
            self.counts = {}

    def tag(self, address: str) -> bytes:
        self._roll()
        return hmac.new(self.key, address.encode("utf-8", "replace"), hashlib.sha256).digest()

    def count(self, tag: bytes) -> int:
        self._roll()
        return self.counts.get(tag, 0)

    def add(self, tag: bytes, amount: int) -> None:
        self._roll()
        value = self.counts.get(tag, 0) + amount
        if value > 0:
            self.counts[tag] = value
        else:
            self.counts.pop(tag, None)


@dataclass
class FailedCheckReservation:
    """A receipt check counted as failed until it turns out right (then refunded)."""

    limiter: RateLimiter
    client_tag: bytes
    global_tag: bytes
    settled: bool = False

    def refund(self) -> None:
        if not self.settled:
            self.settled = True
            self.limiter.failed.add(self.client_tag, -1)
            self.limiter.failed_global.add(self.global_tag, -1)

    def keep(self) -> None:
        self.settled = True


_GLOBAL = "*"


class RateLimiter:
    """Per-client submission and failed-check budgets, plus a global failed-check throttle.

    Failed checks are reserved *before* the receipt KDF runs, so a burst of
    concurrent guesses cannot all slip past the limit while their KDFs run.
    """

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.submissions = _Window(HOUR, clock)
        self.failed = _Window(HOUR, clock)
        self.failed_global = _Window(MINUTE, clock)

    def take_submission(self, address: str) -> None:
        tag = self.submissions.tag(address)
        if self.submissions.count(tag) >= self.limits.submissions_per_hour:
            raise RateLimited("提交或查询过于频繁，请一小时后再试。")
        self.submissions.add(tag, 1)

    def reserve_failed_check(self, address: str) -> FailedCheckReservation:
        """Before a receipt check: refuse when over a budget, else count it as failed for now."""
        client = self.failed.tag(address)
        everyone = self.failed_global.tag(_GLOBAL)
        if self.failed_global.count(everyone) >= self.limits.failed_checks_per_minute:
            raise RateLimited("查询人数过多，请一分钟后再试。")
        if self.failed.count(client) >= self.limits.failed_checks_per_hour:
            raise RateLimited("查询码错误次数过多，请一小时后再试。")
        self.take_submission(address)
        self.failed.add(client, 1)
        self.failed_global.add(everyone, 1)
        return FailedCheckReservation(self, client, everyone)
