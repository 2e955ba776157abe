"""The case store: sealing a new case, and what a reporter may see and add with a receipt.

Sealing is pure (`seal_new_case`): the router's decision, the case key and
every content field are prepared in memory; `insert_case` then writes them
in the caller's transaction, so a failed submission leaves nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.county import now
from core.db import insert_new
from core.models import (
    Attachment,
    BlobChunk,
    Case,
    CaseField,
    CaseKey,
    Message,
    TriageRecord,
    new_id,
)
from crypto import (
    CaseKey as DataKey,
)
from crypto import (
    PublicKey,
    ReceiptKeys,
    blind_index,
    open_text,
    seal_text,
    unwrap_case_key_for_reporter,
    wrap_case_key,
    wrap_case_key_for_reporter,
)
from routing import Decision, Discipline


class Channel(StrEnum):
    WEB = "web"  # 网络
    PHONE = "phone"  # 电话
    MAIL = "mail"  # 信箱


class Status(StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    TRANSFER_PROPOSED = "transfer_proposed"
    TRANSFERRED = "transferred"
    FEEDBACK_RECEIVED = "feedback_received"
    CLOSED = "closed"
    NOT_ACCEPTED = "not_accepted"
    DUPLICATE = "duplicate"


# What the reporter sees (SPEC §5): internal steps collapse into a few plain words.
REPORTER_LABELS: dict[Status, str] = {
    Status.RECEIVED: "已提交",
    Status.TRIAGED: "已受理",
    Status.TRANSFER_PROPOSED: "已受理",
    Status.TRANSFERRED: "已移交",
    Status.FEEDBACK_RECEIVED: "办理中",
    Status.CLOSED: "已办结",
    Status.NOT_ACCEPTED: "不予受理",
    Status.DUPLICATE: "重复件",
}


class MessageKind(StrEnum):
    FROM_REPORTER = "reporter"
    FROM_HANDLER = "handler"
    STAFF_NOTE = "note"


class FieldName(StrEnum):
    TEXT = "text"
    ACCUSED = "accused"
    CONTACT = "contact"
    EXPLANATION = "explanation"


BLOB_FLUSH_BATCH = 32  # segments of 64 KiB


def message_field(message_id: str) -> str:
    return f"message/{message_id}"


def attachment_field(attachment_id: str) -> str:
    return f"attachment/{attachment_id}"


def attachment_meta_field(attachment_id: str) -> str:
    return f"attachment_meta/{attachment_id}"


@dataclass(frozen=True)
class Accused:
    name: str | None = None
    unit: str | None = None
    position: str | None = None

    def is_empty(self) -> bool:
        return not (self.name or self.unit or self.position)

    def to_json(self) -> str:
        return json.dumps(
            {"name": self.name, "unit": self.unit, "position": self.position}, ensure_ascii=False
        )

    @classmethod
    def from_json(cls, text: str) -> Accused:
        data = json.loads(text)
        return cls(data.get("name"), data.get("unit"), data.get("position"))


@dataclass(frozen=True)
class NewReport:
    """A validated report from any channel, before routing."""

    channel: Channel
    text: str
    accused: Accused = field(default_factory=Accused)
    category_hint: Discipline | None = None
    contact: str | None = None


@dataclass(frozen=True)
class SealedAttachment:
    """An attachment already sealed under the case key (by the channel, while streaming)."""

    id: str
    sealed_meta: bytes
    segments: Sequence[bytes]
    size_bucket: int


@dataclass(frozen=True)
class Reader:
    """A body that may open the case, through one of its key generations."""

    body_id: str
    key_id: str
    public_key: PublicKey


@dataclass(frozen=True)
class SealedCase:
    case: Case
    fields: tuple[CaseField, ...]
    keys: tuple[CaseKey, ...]
    triage: TriageRecord


def seal_new_case(
    *,
    case_id: str,
    data_key: DataKey,
    report: NewReport,
    decision: Decision,
    receipt: ReceiptKeys,
    readers: Sequence[Reader],
    index_key: bytes,
    today: date,
    attachments: Sequence[SealedAttachment] = (),
) -> SealedCase:
    contents = {
        FieldName.TEXT: report.text,
        FieldName.ACCUSED: report.accused.to_json(),
        FieldName.EXPLANATION: "\n".join(decision.explanation),
    }
    if report.contact:
        contents[FieldName.CONTACT] = report.contact
    fields = tuple(
        CaseField(case_id=case_id, name=name.value, sealed=seal_text(data_key, case_id, name, text))
        for name, text in contents.items()
    )
    moment = now()
    keys = [
        CaseKey(
            case_id=case_id,
            body_id=None,
            body_key_id=None,
            wrapped=wrap_case_key_for_reporter(data_key, case_id, receipt.reporter_key),
            created_at=moment,
        ),
        *(
            CaseKey(
                case_id=case_id,
                body_id=reader.body_id,
                body_key_id=reader.key_id,
                wrapped=wrap_case_key(data_key, case_id, reader.public_key),
                created_at=moment,
            )
            for reader in readers
        ),
    ]
    name = report.accused.name
    index = blind_index(index_key, name, report.accused.unit or "") if name else None
    categories = [c.value for c in decision.categories]
    primary = decision.primary.value if decision.primary else None
    case = Case(
        id=case_id,
        receipt_lookup=bytes.fromhex(receipt.lookup_id),
        channel=report.channel.value,
        received_on=today,
        unit_id=decision.unit_id,
        categories=categories,
        primary=primary,
        problem_type=decision.problem_type.value,
        destination=decision.destination.value,
        assignee_body_id=decision.assignee_body_id,
        status=Status.RECEIVED.value,
        status_changed_on=today,
        blind_index=index,
        attachment_count=len(attachments),
        size_bucket=sum(a.size_bucket for a in attachments),
        version=1,
    )
    triage = TriageRecord(
        case_id=case_id,
        categories=categories,
        primary=primary,
        problem_type=decision.problem_type.value,
        destination=decision.destination.value,
        author_id=None,
        sealed_reason=None,
        created_at=moment,
    )
    return SealedCase(case, fields, tuple(keys), triage)


async def insert_case(
    session: AsyncSession, sealed: SealedCase, attachments: Sequence[SealedAttachment] = ()
) -> None:
    await insert_new(session, [sealed.case, *sealed.fields, *sealed.keys, sealed.triage])
    for attachment in attachments:
        await insert_attachment(session, sealed.case.id, attachment)
    await session.flush()


async def insert_attachment(
    session: AsyncSession,
    case_id: str,
    attachment: SealedAttachment,
    message_id: str | None = None,
) -> None:
    session.add(
        Attachment(
            id=attachment.id,
            case_id=case_id,
            message_id=message_id,
            sealed_meta=attachment.sealed_meta,
            segment_count=len(attachment.segments),
            size_bucket=attachment.size_bucket,
        )
    )
    await session.flush()
    # Flushed in batches so a 100 MiB attachment is never held as ORM objects all at once
    # (segments may come from a ciphertext spool file rather than memory).
    batch: list[BlobChunk] = []
    for i, segment in enumerate(attachment.segments):
        batch.append(BlobChunk(attachment_id=attachment.id, seq=i, data=segment))
        if len(batch) >= BLOB_FLUSH_BATCH:
            session.add_all(batch)
            await session.flush()
            batch = []
    session.add_all(batch)


# --- the reporter's side --------------------------------------------------------------------


async def case_by_receipt(session: AsyncSession, receipt: ReceiptKeys) -> Case | None:
    return await session.scalar(
        select(Case).where(Case.receipt_lookup == bytes.fromhex(receipt.lookup_id))
    )


async def case_for_reporter(
    session: AsyncSession, receipt: ReceiptKeys
) -> tuple[Case, DataKey] | None:
    """The case a receipt opens and its data key, in one query (None: no such case)."""
    row = (
        await session.execute(
            select(Case, CaseKey.wrapped)
            .outerjoin(CaseKey, (CaseKey.case_id == Case.id) & CaseKey.body_key_id.is_(None))
            .where(Case.receipt_lookup == bytes.fromhex(receipt.lookup_id))
        )
    ).first()
    if row is None:
        return None
    case, wrapped = row
    if wrapped is None:  # pragma: no cover - every case is created with a reporter key
        raise LookupError("case without reporter key")
    return case, unwrap_case_key_for_reporter(wrapped, case.id, receipt.reporter_key)


async def reporter_data_key(session: AsyncSession, case: Case, receipt: ReceiptKeys) -> DataKey:
    wrapped = await session.scalar(
        select(CaseKey.wrapped).where(CaseKey.case_id == case.id, CaseKey.body_key_id.is_(None))
    )
    if wrapped is None:  # pragma: no cover - every case is created with a reporter key
        raise LookupError("case without reporter key")
    return unwrap_case_key_for_reporter(wrapped, case.id, receipt.reporter_key)


@dataclass(frozen=True)
class ThreadMessage:
    kind: MessageKind
    text: str
    on: date


async def read_thread(
    session: AsyncSession, case: Case, data_key: DataKey, *, include_notes: bool = False
) -> list[ThreadMessage]:
    """Messages of a case, oldest first; staff notes only when asked for (never reporters)."""
    query = select(Message).where(Message.case_id == case.id).order_by(Message.seq)
    if not include_notes:
        query = query.where(Message.kind != MessageKind.STAFF_NOTE.value)
    return [_opened(m, case, data_key) for m in await session.scalars(query)]


async def reporter_case_and_thread(
    session: AsyncSession, receipt: ReceiptKeys
) -> tuple[Case, list[ThreadMessage]] | None:
    """What a receipt opens, in one query: the case and its thread without staff notes.

    The case key is unwrapped with the receipt's reporter key, as in `case_for_reporter`;
    one row per message (one row with no message when the thread is empty).
    """
    rows = (
        await session.execute(
            select(Case, CaseKey.wrapped, Message)
            .outerjoin(CaseKey, (CaseKey.case_id == Case.id) & CaseKey.body_key_id.is_(None))
            .outerjoin(
                Message,
                (Message.case_id == Case.id) & (Message.kind != MessageKind.STAFF_NOTE.value),
            )
            .where(Case.receipt_lookup == bytes.fromhex(receipt.lookup_id))
            .order_by(Message.seq)
        )
    ).all()
    if not rows:
        return None
    case, wrapped, _ = rows[0]
    if wrapped is None:  # pragma: no cover - every case is created with a reporter key
        raise LookupError("case without reporter key")
    data_key = unwrap_case_key_for_reporter(wrapped, case.id, receipt.reporter_key)
    return case, [_opened(m, case, data_key) for _, _, m in rows if m is not None]


def _opened(message: Message, case: Case, data_key: DataKey) -> ThreadMessage:
    return ThreadMessage(
        MessageKind(message.kind),
        open_text(data_key, case.id, message_field(message.id), message.sealed),
        message.created_on,
    )


async def add_message(
    session: AsyncSession,
    case: Case,
    data_key: DataKey,
    kind: MessageKind,
    text: str,
    *,
    today: date,
    author_id: str | None = None,
) -> Message:
    seq = (
        await session.scalar(select(func.max(Message.seq)).where(Message.case_id == case.id)) or 0
    ) + 1
    message_id = new_id()
    message = Message(
        id=message_id,
        case_id=case.id,
        seq=seq,
        kind=kind.value,
        author_id=author_id,
        created_on=today,
        sealed=seal_text(data_key, case.id, message_field(message_id), text),
    )
    session.add(message)
    await session.flush()
    return message
