"""移交 (第十九条): a 巡察组 proposes, 巡察办 approves or rejects, the destination answers.

Only on approval is the data key wrapped to the destination body: until then it holds no
``CaseKey`` row and cannot decrypt anything, and the case is invisible to its members. The
approval starts the one-month clock (``routing.deadlines.transfer_feedback_due``); the written
feedback (书面反馈) stops it. Notes and feedback are sealed under the case data key; events and
notifications name bodies and ids only.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import body_of_kind, grant_case_key
from core.audit import append_event
from core.cases import MessageKind, add_message
from core.county import BodyKind, now
from core.errors import Conflict
from core.models import Body, Case, Transfer, new_id
from core.outbox import OutboxKind, enqueue
from core.triage import Action, move_case, written
from crypto import CaseKey as DataKey
from crypto import seal_text
from routing import Destination
from routing.deadlines import transfer_feedback_due


def transfer_note_field(transfer_id: str) -> str:
    return f"transfer_note/{transfer_id}"


def transfer_feedback_field(transfer_id: str) -> str:
    return f"transfer_feedback/{transfer_id}"


_DESTINATION_KINDS = {
    Destination.COUNTY_DISCIPLINE_COMMISSION: BodyKind.DISCIPLINE_COMMISSION,
    Destination.ORGANIZATION_DEPARTMENT: BodyKind.ORGANIZATION_DEPARTMENT,
    Destination.UNIT_PARTY_ORG: BodyKind.UNIT_PARTY_ORG,
    Destination.RELEVANT_DEPARTMENT: BodyKind.RELEVANT_DEPARTMENT,
    Destination.INSPECTION_OFFICE: BodyKind.OFFICE,
}


async def destination_body(session: AsyncSession, case: Case, destination: Destination) -> Body:
    """The body that receives a 移交 to ``destination`` (a unit's 党组织 needs the case's unit)."""
    kind = _DESTINATION_KINDS[destination]
    if kind is BodyKind.UNIT_PARTY_ORG:
        if case.unit_id is None:
            raise Conflict("未识别被反映单位，无法移交被巡察单位党组织。", code="no_unit")
        return await body_of_kind(session, kind, case.unit_id)
    return await body_of_kind(session, kind)


async def pending_transfer(session: AsyncSession, case_id: str) -> Transfer | None:
    return await session.scalar(
        select(Transfer).where(Transfer.case_id == case_id, Transfer.decision.is_(None))
    )


async def approved_transfer(session: AsyncSession, case_id: str) -> Transfer | None:
    return await session.scalar(
        select(Transfer)
        .where(Transfer.case_id == case_id, Transfer.decision == "approved")
        .order_by(Transfer.decided_at.desc())
        .limit(1)
    )


async def propose_transfer(
    session: AsyncSession,
    case: Case,
    data_key: DataKey,
    destination: Destination,
    note: object,
    *,
    author_id: str,
    today: date,
) -> Transfer:
    note_text = written(note, "移交说明")
    body = await destination_body(session, case, destination)
    move_case(case, Action.PROPOSE_TRANSFER, today)
    transfer_id = new_id()
    transfer = Transfer(
        id=transfer_id,
        case_id=case.id,
        destination_body_id=body.id,
        sealed_note=seal_text(data_key, case.id, transfer_note_field(transfer_id), note_text),
        proposed_by=author_id,
        proposed_at=now(),
    )
    session.add(transfer)
    case.destination = destination.value
    await append_event(
        session,
        "transfer.proposed",
        actor_id=author_id,
        case_id=case.id,
        detail={"transfer": transfer_id, "destination": destination.value, "body": body.id},
    )
    office = await body_of_kind(session, BodyKind.OFFICE)
    await enqueue(
        session,
        OutboxKind.NOTIFY_BODY,
        f"transfer-proposed:{transfer_id}",
        {"body_id": office.id, "reason": "transfer_proposed", "case_id": case.id},
    )
    await session.flush()
    return transfer


async def decide_transfer(
    session: AsyncSession,
    case: Case,
    data_key: DataKey,
    *,
    approve: bool,
    decider_id: str,
    today: date,
    reason: object = None,
) -> Transfer:
    """巡察办 approves (the destination gets the key, the month starts) or rejects with a reason."""
    transfer = await pending_transfer(session, case.id)
    if transfer is None:
        raise Conflict("该案件没有待审批的移交。", code="invalid_transition")
    move_case(case, Action.APPROVE_TRANSFER if approve else Action.REJECT_TRANSFER, today)
    transfer.decided_by = decider_id
    transfer.decided_at = now()
    if approve:
        transfer.decision = "approved"
        transfer.due_on = case.due_on = transfer_feedback_due(today).due
        await grant_case_key(session, case, data_key, transfer.destination_body_id)
        kind, notify_body, reason_key = (
            "transfer.approved",
            transfer.destination_body_id,
            "transfer_approved",
        )
    else:
        transfer.decision = "rejected"
        why = written(reason, "不同意移交的理由")
        # The reason stays with the case as an internal note (sealed), for the proposing group.
        await add_message(
            session,
            case,
            data_key,
            MessageKind.STAFF_NOTE,
            f"巡察办不同意移交：{why}",
            today=today,
            author_id=decider_id,
        )
        kind, notify_body, reason_key = (
            "transfer.rejected",
            case.assignee_body_id,
            "transfer_rejected",
        )
    await append_event(
        session,
        kind,
        actor_id=decider_id,
        case_id=case.id,
        detail={"transfer": transfer.id, "body": transfer.destination_body_id},
    )
    await enqueue(
        session,
        OutboxKind.NOTIFY_BODY,
        f"{reason_key}:{transfer.id}",
        {"body_id": notify_body, "reason": reason_key, "case_id": case.id},
    )
    await session.flush()
    return transfer


async def record_feedback(
    session: AsyncSession,
    case: Case,
    data_key: DataKey,
    text: object,
    *,
    author_id: str,
    today: date,
) -> Transfer:
    """书面反馈 of the receiving body, which closes the one-month clock."""
    feedback = written(text, "书面反馈", maximum=20_000)
    transfer = await approved_transfer(session, case.id)
    if transfer is None or transfer.feedback_on is not None:
        raise Conflict("该案件没有等待反馈的移交。", code="invalid_transition")
    move_case(case, Action.FEEDBACK, today)
    transfer.sealed_feedback = seal_text(
        data_key, case.id, transfer_feedback_field(transfer.id), feedback
    )
    transfer.feedback_on = today
    case.due_on = None
    on_time = transfer.due_on is None or today <= transfer.due_on
    await append_event(
        session,
        "transfer.feedback",
        actor_id=author_id,
        case_id=case.id,
        detail={"transfer": transfer.id, "on_time": on_time},
    )
    for body_id in {case.assignee_body_id, (await body_of_kind(session, BodyKind.OFFICE)).id}:
        await enqueue(
            session,
            OutboxKind.NOTIFY_BODY,
            f"feedback-received:{transfer.id}:{body_id}",
            {"body_id": body_id, "reason": "feedback_received", "case_id": case.id},
        )
    await session.flush()
    return transfer
