"""The transactional outbox: background work written in the same transaction as its cause.

Payloads name bodies, users and counts, never report content (SPEC §3).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import OutboxItem


class OutboxKind(StrEnum):
    NOTIFY_BODY = "notify_body"  # tell a body's members that something waits for them
    NOTIFY_USER = "notify_user"


async def enqueue(
    session: AsyncSession, kind: OutboxKind, idempotency_key: str, payload: dict[str, Any]
) -> OutboxItem | None:
    """Queue one item unless an item with this key exists (then return None)."""
    existing = await session.scalar(
        select(OutboxItem.id).where(OutboxItem.idempotency_key == idempotency_key)
    )
    if existing is not None:
        return None
    moment = datetime.now(UTC)
    item = OutboxItem(
        kind=kind.value,
        idempotency_key=idempotency_key,
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=moment,
        created_at=moment,
    )
    session.add(item)
    await session.flush()
    return item
