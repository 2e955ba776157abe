"""Receipt checks: parsed before any work, rate limited, and equally slow right or wrong.

A wrong receipt must not answer faster than a right one, or response times
would tell a guesser when a lookup hit. The KDF runs either way (the pipeline
derives before it looks anything up); what remains (reading and decrypting
the thread) is hidden by padding every check to a fixed floor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.errors import InvalidInput, NotFound
from crypto import ReceiptFormatError, normalise_receipt
from intake.ratelimit import RateLimiter

T = TypeVar("T")


def parse_receipt(value: object) -> str:
    """The 20 digits of what a reporter typed (spaces, dashes, full-width digits accepted)."""
    if not isinstance(value, str):
        raise InvalidInput("请填写查询码。", code="invalid_receipt")
    try:
        return normalise_receipt(value)
    except ReceiptFormatError:
        raise InvalidInput("查询码应为 20 位数字。", code="invalid_receipt") from None


class ReceiptGate:
    def __init__(self, limiter: RateLimiter, floor_seconds: float) -> None:
        self.limiter = limiter
        self.floor_seconds = floor_seconds

    async def check(
        self, address: str, receipt_text: object, action: Callable[[str], Awaitable[T]]
    ) -> T:
        """Run ``action(receipt)``; a ``NotFound`` from it counts as a failed check."""
        receipt = parse_receipt(receipt_text)
        reservation = self.limiter.reserve_failed_check(address)
        started = time.monotonic()
        try:
            result = await action(receipt)
        except NotFound:
            reservation.keep()
            await self._pad(started)
            raise
        except BaseException:
            reservation.refund()
            raise
        reservation.refund()
        await self._pad(started)
        return result

    async def _pad(self, started: float) -> None:
        remaining = self.floor_seconds - (time.monotonic() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)
