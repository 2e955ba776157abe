"""Tamper-evident audit log: a SHA-256 hash chain over canonically encoded events.

``hash(n) = SHA-256(bytes(hash(n-1)) || canonical(n))``, with ``hash(0)`` = 32 zero bytes and::

    canonical(n) = UTF-8 of compact JSON {"body": body, "id": event id, "seq": n}
                   with sorted keys, separators "," and ":", non-ASCII kept, NaN refused

Hashes are stored and shown as 64 lower-case hex characters. Each event carries its sequence
number and stored hash, so :func:`verify_chain` can tell an edit (hash mismatch) from a deletion
(a gap), an insertion (a repeated number) and a reordering (a number that comes later).

A plain hash chain proves consistency, not authorship: someone who can rewrite the whole table
can recompute every hash. Publish the head hash now and then (台账 exports, the escrow holder)
and pass those ``anchors`` back in to catch a wholesale rewrite or a cut-off tail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64


class ChainBreak(StrEnum):
    EDITED = "edited"  # content or stored hash changed (or the chain was rewritten)
    DELETED = "deleted"  # an event is missing
    INSERTED = "inserted"  # an extra event with a sequence number already used
    REORDERED = "reordered"  # events out of sequence order


_DESCRIPTIONS = {
    ChainBreak.EDITED: "被修改 edited",
    ChainBreak.DELETED: "被删除 deleted",
    ChainBreak.INSERTED: "被插入 inserted",
    ChainBreak.REORDERED: "顺序被打乱 reordered",
}


@dataclass(frozen=True, slots=True)
class AuditEvent:
    sequence: int
    event_id: str
    body: Mapping[str, Any]
    stored_hash: str


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """Result of :func:`verify_chain`; ``index`` is the position in the list that was passed."""

    intact: bool
    checked: int
    head_hash: str
    kind: ChainBreak | None = None
    index: int | None = None
    sequence: int | None = None
    event_id: str | None = None
    expected_sequence: int | None = None

    def describe(self) -> str:
        """One line for ``xuncha audit verify``."""
        if self.kind is None:
            return f"审计链完整 audit chain intact: {self.checked} events, head {self.head_hash}"
        if self.kind is ChainBreak.DELETED:
            where = f"event #{self.expected_sequence} (before position {self.index})"
        else:
            where = f"event #{self.sequence} (id {self.event_id}, position {self.index})"
        return f"审计链断裂 audit chain broken: {where} {_DESCRIPTIONS[self.kind]}"


def canonical_event(sequence: int, event_id: str, body: Mapping[str, Any]) -> bytes:
    document = {"body": body, "id": event_id, "seq": sequence}
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def event_hash(previous_hash: str, sequence: int, event_id: str, body: Mapping[str, Any]) -> str:
    """The chain hash of one event given its predecessor's hash."""
    material = bytes.fromhex(previous_hash) + canonical_event(sequence, event_id, body)
    return hashlib.sha256(material).hexdigest()


def chain_event(
    previous_hash: str, sequence: int, event_id: str, body: Mapping[str, Any]
) -> AuditEvent:
    """Build the next event of a chain, hash included."""
    digest = event_hash(previous_hash, sequence, event_id, body)
    return AuditEvent(sequence=sequence, event_id=event_id, body=body, stored_hash=digest)


def verify_chain(
    events: Sequence[AuditEvent],
    *,
    previous_hash: str = GENESIS_HASH,
    first_sequence: int = 1,
    anchors: Mapping[int, str] | None = None,
) -> ChainVerdict:
    """Walk ``events`` in stored order and report the first break, if any.

    ``previous_hash`` and ``first_sequence`` let a caller verify a tail of a long chain from a
    checkpoint; ``anchors`` maps sequence numbers to hashes published elsewhere.
    """
    anchors = anchors or {}
    last_position = {event.sequence: i for i, event in enumerate(events)}
    head, expected = previous_hash, first_sequence

    def broken(kind: ChainBreak, i: int) -> ChainVerdict:
        event = events[i] if i < len(events) else None
        return ChainVerdict(
            intact=False,
            checked=i,
            head_hash=head,
            kind=kind,
            index=i,
            sequence=event.sequence if event else None,
            event_id=event.event_id if event else None,
            expected_sequence=expected,
        )

    for i, event in enumerate(events):
        if event.sequence > expected:
            later = last_position.get(expected, -1) > i
            return broken(ChainBreak.REORDERED if later else ChainBreak.DELETED, i)
        if event.sequence < expected:
            return broken(ChainBreak.INSERTED, i)
        digest = event_hash(head, event.sequence, event.event_id, event.body)
        anchored = anchors.get(event.sequence, event.stored_hash)
        if not (hmac.compare_digest(digest, event.stored_hash) and digest == anchored):
            twin = i + 1 < len(events) and events[i + 1].sequence == expected
            return broken(ChainBreak.INSERTED if twin else ChainBreak.EDITED, i)
        head, expected = digest, expected + 1
    if any(sequence >= expected for sequence in anchors):
        return broken(ChainBreak.DELETED, len(events))
    return ChainVerdict(intact=True, checked=len(events), head_hash=head)
