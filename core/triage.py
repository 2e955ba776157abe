"""The case state machine of SPEC §5: triage, 移交 with 巡察办 approval, feedback, close.

``received → triaged → transfer_proposed → transferred → feedback_received → closed``, and
``not_accepted`` / ``duplicate`` from the first two states. Which transitions exist is decided
by :func:`next_status` (pure); the store functions below apply one transition inside the
caller's transaction, seal whatever a person wrote under the case data key, append the audit
event and queue the notification (content-free payloads: body, reason, case id).

The 移交 steps (propose, approve or reject, feedback) live in ``core.transfers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import body_of_kind, grant_case_key
from core.audit import append_event
from core.cases import MessageKind, Status, add_message
from core.county import BodyKind, now
from core.errors import Conflict, InvalidInput
from core.models import Body, Case, CaseKey, TriageRecord, new_id
from crypto import CaseKey as DataKey
from crypto import seal_text
from routing import Destination, Discipline, ProblemType

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


def move_case(case: Case, action: Action, today: date) -> None:
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
    move_case(case, Action.TRIAGE, today)
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
    office = await body_of_kind(session, BodyKind.OFFICE)
    groups = select(Body.id).where(Body.kind == BodyKind.INSPECTION_GROUP.value)
    await session.execute(
        delete(CaseKey).where(CaseKey.case_id == case.id, CaseKey.body_id.in_(groups))
    )
    case.assignee_body_id = office.id
    leading = await session.scalar(select(Body).where(Body.kind == BodyKind.LEADING_GROUP.value))
    if leading is not None:
        await grant_case_key(session, case, data_key, leading.id)


async def close_case(session: AsyncSession, case: Case, *, actor_id: str, today: date) -> None:
    """销号: the case is done."""
    move_case(case, Action.CLOSE, today)
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
    move_case(case, action, today)
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
