"""The case state machine of SPEC §5: triage, 移交 with 巡察办 approval, feedback, close.

``received → triaged → transfer_proposed → transferred → feedback_received → closed``, and
``not_accepted`` / ``duplicate`` from the first two states. Which transitions exist is decided
by :func:`next_status` (pure); the store functions below apply one transition inside the
caller's transaction, seal whatever a person wrote under the case data key, append the audit
event and queue the notification (content-free payloads: body, reason, case id).

Only on approval is the data key wrapped to the destination body (第十九条): until then the
receiving body holds no ``CaseKey`` row and cannot decrypt anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import current_body_key
from core.audit import append_event
from core.cases import MessageKind, Status, add_message
from core.county import BodyKind, now
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Body, Case, CaseKey, Transfer, TriageRecord, new_id
from core.outbox import OutboxKind, enqueue
from crypto import CaseKey as DataKey
from crypto import PublicKey, seal_text, wrap_case_key
from routing import Destination, Discipline, ProblemType
from routing.deadlines import transfer_feedback_due

MAX_NOTE = 5_000


class Action(StrEnum):
    TRIAGE = "triage"
    PROPOSE_TRANSFER = "propose_transfer"
    APPROVE_TRANSFER = "approve_transfer"
    REJECT_TRANSFER = "reject_transfer"
    FEEDBACK = "feedback"
    CLOSE = "close"
    DUPLICATE = "duplicate"
    NOT_ACCEPT = "not_accept"


_OPEN = frozenset({Status.RECEIVED, Status.TRIAGED})
_MOVES: dict[Action, tuple[frozenset[Status], Status]] = {
    Action.TRIAGE: (_OPEN, Status.TRIAGED),
    Action.PROPOSE_TRANSFER: (_OPEN, Status.TRANSFER_PROPOSED),
    Action.APPROVE_TRANSFER: (frozenset({Status.TRANSFER_PROPOSED}), Status.TRANSFERRED),
    Action.REJECT_TRANSFER: (frozenset({Status.TRANSFER_PROPOSED}), Status.TRIAGED),
    Action.FEEDBACK: (frozenset({Status.TRANSFERRED}), Status.FEEDBACK_RECEIVED),
    Action.CLOSE: (frozenset({Status.TRIAGED, Status.FEEDBACK_RECEIVED}), Status.CLOSED),
    Action.DUPLICATE: (_OPEN, Status.DUPLICATE),
    Action.NOT_ACCEPT: (_OPEN, Status.NOT_ACCEPTED),
}


def next_status(current: Status, action: Action) -> Status:
    """The status after ``action``; Conflict when the case is not in a state that allows it."""
    allowed, target = _MOVES[action]
    if current not in allowed:
        raise Conflict("案件当前状态不允许该操作。", code="invalid_transition")
    return target


def allowed_actions(current: Status) -> frozenset[Action]:
    return frozenset(action for action, (allowed, _) in _MOVES.items() if current in allowed)


def triage_reason_field(record_id: str) -> str:
    return f"triage_reason/{record_id}"


def transfer_note_field(transfer_id: str) -> str:
    return f"transfer_note/{transfer_id}"


def transfer_feedback_field(transfer_id: str) -> str:
    return f"transfer_feedback/{transfer_id}"


def written(text: object, what: str, *, maximum: int = MAX_NOTE) -> str:
    """A required piece of writing (reason, note, feedback): trimmed, non-empty, bounded."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"请填写{what}。", code="missing_text")
    if len(text.strip()) > maximum:
        raise InvalidInput(f"{what}不能超过 {maximum} 字。", code="text_too_long")
    return text.strip()


@dataclass(frozen=True)
class Tags:
    """The tags staff confirm or override (SPEC §4 keys)."""

    categories: tuple[Discipline, ...]
    primary: Discipline | None
    problem_type: ProblemType
    destination: Destination

    @classmethod
    def parse(cls, body: dict[str, object]) -> Tags:
        try:
            raw = body.get("categories") or []
            if not isinstance(raw, list):
                raise ValueError
            categories = tuple(dict.fromkeys(Discipline(str(c)) for c in raw))
            primary_raw = body.get("primary")
            primary = Discipline(str(primary_raw)) if primary_raw else None
            problem = ProblemType(str(body.get("problem_type")))
            destination = Destination(str(body.get("destination")))
        except ValueError:
            raise InvalidInput("标签取值不正确。", code="invalid_tags") from None
        if primary is not None and primary not in categories:
            categories = (primary, *categories)
        return cls(categories, primary, problem, destination)


def _move(case: Case, action: Action, today: date) -> None:
    case.status = next_status(Status(case.status), action).value
    case.status_changed_on = today
    case.version += 1


async def record_triage(
    session: AsyncSession,
    case: Case,
    data_key: DataKey,
    tags: Tags,
    reason: object,
    *,
    author_id: str,
    today: date,
) -> TriageRecord:
    """Confirm or override the tags; earlier records (the router's original first) stay."""
    why = written(reason, "理由")
    before = {
        "categories": list(case.categories),
        "primary": case.primary,
        "problem_type": case.problem_type,
        "destination": case.destination,
    }
    _move(case, Action.TRIAGE, today)
    record_id = new_id()
    record = TriageRecord(
        id=record_id,
        case_id=case.id,
        categories=[c.value for c in tags.categories],
        primary=tags.primary.value if tags.primary else None,
        problem_type=tags.problem_type.value,
        destination=tags.destination.value,
        author_id=author_id,
        sealed_reason=seal_text(data_key, case.id, triage_reason_field(record_id), why),
        created_at=now(),
    )
    session.add(record)
    case.categories = record.categories
    case.primary = record.primary
    case.problem_type = record.problem_type
    case.destination = record.destination
    after = {
        "categories": record.categories,
        "primary": record.primary,
        "problem_type": record.problem_type,
        "destination": record.destination,
    }
    if tags.problem_type is ProblemType.INSPECTOR_MISCONDUCT and before["problem_type"] != (
        ProblemType.INSPECTOR_MISCONDUCT.value
    ):
        await _move_to_office(session, case, data_key)
    changed = sorted(k for k in after if after[k] != before[k])
    await append_event(
        session,
        "case.triaged",
        actor_id=author_id,
        case_id=case.id,
        detail={"record": record_id, "changed": changed, "before": before, "after": after},
    )
    await session.flush()
    return record


async def _move_to_office(session: AsyncSession, case: Case, data_key: DataKey) -> None:
    """A report about inspectors (第二十七条) leaves every 巡察组: 巡察办 and 领导小组 only."""
    office = await _body_of_kind(session, BodyKind.OFFICE)
    groups = select(Body.id).where(Body.kind == BodyKind.INSPECTION_GROUP.value)
    await session.execute(
        delete(CaseKey).where(CaseKey.case_id == case.id, CaseKey.body_id.in_(groups))
    )
    case.assignee_body_id = office.id
    leading = await session.scalar(select(Body).where(Body.kind == BodyKind.LEADING_GROUP.value))
    if leading is not None:
        await _grant_case_key(session, case, data_key, leading.id)


async def _body_of_kind(session: AsyncSession, kind: BodyKind, unit_id: str | None = None) -> Body:
    query = select(Body).where(Body.kind == kind.value)
    if unit_id is not None:
        query = query.where(Body.unit_id == unit_id)
    body = await session.scalar(query.order_by(Body.created_at).limit(1))
    if body is None:
        raise NotFound("没有可接收该移交的机构。", code="no_destination_body")
    return body


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
        return await _body_of_kind(session, kind, case.unit_id)
    return await _body_of_kind(session, kind)


async def _grant_case_key(
    session: AsyncSession, case: Case, data_key: DataKey, body_id: str
) -> None:
    key = await current_body_key(session, body_id)
    exists = await session.scalar(
        select(CaseKey.id).where(CaseKey.case_id == case.id, CaseKey.body_key_id == key.id)
    )
    if exists is None:
        session.add(
            CaseKey(
                case_id=case.id,
                body_id=body_id,
                body_key_id=key.id,
                wrapped=wrap_case_key(data_key, case.id, PublicKey(key.public_key)),
                created_at=now(),
            )
        )


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
    _move(case, Action.PROPOSE_TRANSFER, today)
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
    office = await _body_of_kind(session, BodyKind.OFFICE)
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
    _move(case, Action.APPROVE_TRANSFER if approve else Action.REJECT_TRANSFER, today)
    transfer.decided_by = decider_id
    transfer.decided_at = now()
    if approve:
        transfer.decision = "approved"
        transfer.due_on = case.due_on = transfer_feedback_due(today).due
        await _grant_case_key(session, case, data_key, transfer.destination_body_id)
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
    _move(case, Action.FEEDBACK, today)
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
    for body_id in {case.assignee_body_id, (await _body_of_kind(session, BodyKind.OFFICE)).id}:
        await enqueue(
            session,
            OutboxKind.NOTIFY_BODY,
            f"feedback-received:{transfer.id}:{body_id}",
            {"body_id": body_id, "reason": "feedback_received", "case_id": case.id},
        )
    await session.flush()
    return transfer


async def close_case(session: AsyncSession, case: Case, *, actor_id: str, today: date) -> None:
    """销号: the case is done."""
    _move(case, Action.CLOSE, today)
    case.due_on = None
    await append_event(session, "case.closed", actor_id=actor_id, case_id=case.id)


async def refuse_case(
    session: AsyncSession,
    case: Case,
    data_key: DataKey,
    action: Action,
    reason: object,
    *,
    actor_id: str,
    today: date,
    duplicate_of: str | None = None,
) -> None:
    """Mark duplicate (重复件) or not accepted (不予受理); the reporter reads the reason."""
    if action not in (Action.DUPLICATE, Action.NOT_ACCEPT):
        raise ValueError(action)
    why = written(reason, "告知举报人的理由")
    _move(case, action, today)
    case.due_on = None
    await add_message(
        session, case, data_key, MessageKind.FROM_HANDLER, why, today=today, author_id=actor_id
    )
    detail = {"duplicate_of": duplicate_of} if duplicate_of else {}
    kind = "case.duplicate" if action is Action.DUPLICATE else "case.not_accepted"
    await append_event(session, kind, actor_id=actor_id, case_id=case.id, detail=detail)


async def write_message(
    session: AsyncSession,
    case: Case,
    data_key: DataKey,
    kind: MessageKind,
    text: object,
    *,
    author_id: str,
    today: date,
) -> None:
    """A reply to the reporter, or an internal note (sealed either way)."""
    if kind is MessageKind.FROM_REPORTER:
        raise ValueError(kind)
    content = written(text, "内容", maximum=20_000)
    message = await add_message(
        session, case, data_key, kind, content, today=today, author_id=author_id
    )
    event = "case.reply" if kind is MessageKind.FROM_HANDLER else "case.note"
    await append_event(
        session, event, actor_id=author_id, case_id=case.id, detail={"message": message.id}
    )
