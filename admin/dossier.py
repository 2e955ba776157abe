"""One case opened for one staff user: decrypted fields, thread, triage, transfers, timeline.

Opening is a decryption: the caller records a ``case.viewed`` event in the same request.
Related cases come through the same visibility and 回避 filter as the queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import Viewer, open_data_key, related_cases, visible_case
from core.cases import (
    Accused,
    FieldName,
    MessageKind,
    attachment_meta_field,
    message_field,
)
from core.models import (
    Attachment,
    Body,
    Case,
    CaseField,
    Event,
    Message,
    Transfer,
    TriageRecord,
    Unit,
    User,
    as_utc,
)
from core.transfers import transfer_feedback_field, transfer_note_field
from core.triage import triage_reason_field
from crypto import CaseKey as DataKey
from crypto import KeyPair, open_text
from routing.deadlines import deadline_status


@dataclass(frozen=True)
class AttachmentInfo:
    id: str
    name: str
    content_type: str
    size: int
    from_message: bool


@dataclass(frozen=True)
class ThreadEntry:
    kind: MessageKind
    text: str
    on: date
    author: str | None


@dataclass(frozen=True)
class TriageEntry:
    categories: list[str]
    primary: str | None
    problem_type: str
    destination: str
    author: str | None  # None: the router's original
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class TransferEntry:
    id: str
    destination_body: str
    note: str | None
    proposed_by: str | None
    proposed_at: datetime
    decision: str | None
    decided_at: datetime | None
    due_on: date | None
    feedback: str | None
    feedback_on: date | None


@dataclass(frozen=True)
class Dossier:
    case: Case
    text: str
    accused: Accused
    contact: str | None
    explanation: str
    attachments: list[AttachmentInfo]
    thread: list[ThreadEntry]
    triage: list[TriageEntry]
    transfers: list[TransferEntry]
    related: list[Case]
    timeline: list[Event]
    names: dict[str, str]  # user id / body id / unit id -> display name

    def due_label(self, today: date) -> str | None:
        due = self.case.due_on
        return deadline_status(due, today).label if due is not None else None


async def open_dossier(
    session: AsyncSession, viewer: Viewer, user_keys: KeyPair, case_id: str
) -> tuple[Dossier, DataKey]:
    case = await visible_case(session, viewer, case_id)
    key = await open_data_key(session, viewer, user_keys, case.id)
    fields = {
        f.name: open_text(key, case.id, f.name, f.sealed)
        for f in await session.scalars(select(CaseField).where(CaseField.case_id == case.id))
    }
    names = await _names(session, case)
    dossier = Dossier(
        case=case,
        text=fields.get(FieldName.TEXT.value, ""),
        accused=Accused.from_json(fields.get(FieldName.ACCUSED.value, "{}")),
        contact=fields.get(FieldName.CONTACT.value),
        explanation=fields.get(FieldName.EXPLANATION.value, ""),
        attachments=await attachment_infos(session, case, key),
        thread=await _thread(session, case, key, names),
        triage=await _triage(session, case, key, names),
        transfers=await _transfers(session, case, key, names),
        related=await related_cases(session, viewer, case),
        timeline=list(
            await session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq))
        ),
        names=names,
    )
    return dossier, key


async def _names(session: AsyncSession, case: Case) -> dict[str, str]:
    names: dict[str, str] = {}
    for user_id, username in await session.execute(select(User.id, User.username)):
        names[user_id] = username
    for body_id, name in await session.execute(select(Body.id, Body.name)):
        names[body_id] = name
    if case.unit_id is not None:
        unit = await session.get(Unit, case.unit_id)
        if unit is not None:
            names[unit.id] = unit.name
    return names


async def attachment_infos(session: AsyncSession, case: Case, key: DataKey) -> list[AttachmentInfo]:
    out = []
    for row in await session.scalars(
        select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id)
    ):
        meta: dict[str, Any] = json.loads(
            open_text(key, case.id, attachment_meta_field(row.id), row.sealed_meta)
        )
        out.append(
            AttachmentInfo(
                row.id,
                str(meta.get("name") or "附件"),
                str(meta.get("content_type") or "application/octet-stream"),
                int(meta.get("size") or 0),
                row.message_id is not None,
            )
        )
    return out


async def _thread(
    session: AsyncSession, case: Case, key: DataKey, names: dict[str, str]
) -> list[ThreadEntry]:
    rows = await session.scalars(
        select(Message).where(Message.case_id == case.id).order_by(Message.seq)
    )
    return [
        ThreadEntry(
            MessageKind(m.kind),
            open_text(key, case.id, message_field(m.id), m.sealed),
            m.created_on,
            names.get(m.author_id) if m.author_id else None,
        )
        for m in rows
    ]


async def _triage(
    session: AsyncSession, case: Case, key: DataKey, names: dict[str, str]
) -> list[TriageEntry]:
    rows = await session.scalars(
        select(TriageRecord)
        .where(TriageRecord.case_id == case.id)
        .order_by(TriageRecord.created_at, TriageRecord.id)
    )
    return [
        TriageEntry(
            list(r.categories),
            r.primary,
            r.problem_type,
            r.destination,
            names.get(r.author_id) if r.author_id else None,
            open_text(key, case.id, triage_reason_field(r.id), r.sealed_reason)
            if r.sealed_reason
            else None,
            as_utc(r.created_at),
        )
        for r in rows
    ]


async def _transfers(
    session: AsyncSession, case: Case, key: DataKey, names: dict[str, str]
) -> list[TransferEntry]:
    rows = await session.scalars(
        select(Transfer).where(Transfer.case_id == case.id).order_by(Transfer.proposed_at)
    )
    return [
        TransferEntry(
            id=t.id,
            destination_body=names.get(t.destination_body_id, ""),
            note=open_text(key, case.id, transfer_note_field(t.id), t.sealed_note)
            if t.sealed_note
            else None,
            proposed_by=names.get(t.proposed_by) if t.proposed_by else None,
            proposed_at=as_utc(t.proposed_at),
            decision=t.decision,
            decided_at=as_utc(t.decided_at) if t.decided_at else None,
            due_on=t.due_on,
            feedback=open_text(key, case.id, transfer_feedback_field(t.id), t.sealed_feedback)
            if t.sealed_feedback
            else None,
            feedback_on=t.feedback_on,
        )
        for t in rows
    ]
