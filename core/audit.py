"""The audit log: every security-relevant act is an event in a hash chain (crypto.audit).

Events say who did what to which case, never what a report says. Appending
is serialised (PostgreSQL: a transaction-scoped advisory lock; SQLite: the
single-writer queue in core.db), so the chain has no forks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import insert_new
from core.models import Event, as_utc, new_id
from crypto.audit import GENESIS_HASH, AuditEvent, ChainVerdict, chain_event, verify_chain

# Arbitrary constant naming the audit chain among PostgreSQL advisory locks.
AUDIT_LOCK_KEY = 0x58554E4348410002


def _body(
    event_at: datetime,
    kind: str,
    actor_id: str | None,
    case_id: str | None,
    detail: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "at": as_utc(event_at).isoformat(timespec="seconds"),
        "kind": kind,
        "actor": actor_id,
        "case": case_id,
        "detail": dict(detail),
    }


_CHAIN_HEAD = select(Event.seq, Event.hash).order_by(Event.seq.desc()).limit(1)


async def append_event(
    session: AsyncSession,
    kind: str,
    *,
    actor_id: str | None = None,
    case_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> Event:
    """Add one event at the head of the chain, inside the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
    head = (await session.execute(_CHAIN_HEAD)).first()
    sequence, previous = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    at = datetime.now(UTC).replace(microsecond=0)
    event_id = new_id()
    detail = dict(detail or {})
    chained = chain_event(previous, sequence, event_id, _body(at, kind, actor_id, case_id, detail))
    event = Event(
        seq=sequence,
        event_id=event_id,
        at=at,
        kind=kind,
        actor_id=actor_id,
        case_id=case_id,
        detail=detail,
        prev_hash=previous,
        hash=chained.stored_hash,
    )
    await insert_new(session, [event])
    return event


async def _stored_events(session: AsyncSession) -> AsyncIterator[AuditEvent]:
    result = await session.stream_scalars(select(Event).order_by(Event.seq))
    async for event in result:
        yield AuditEvent(
            sequence=event.seq,
            event_id=event.event_id,
            body=_body(event.at, event.kind, event.actor_id, event.case_id, event.detail),
            stored_hash=event.hash,
        )


async def verify_audit_chain(session: AsyncSession) -> ChainVerdict:
    events = [event async for event in _stored_events(session)]
    return verify_chain(events)
