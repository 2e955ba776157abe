"""The staff JSON API for cases (SPEC §6), plus attachment download and 移交 rejection.

Errors are always ``{"error": {"code", "message"}}``. A case the user may not see (no key
for their bodies, or 回避) is 404, exactly like a case that does not exist.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from admin.casework import act, download_attachment, iter_file, usable_now, view_case
from admin.dossier import Dossier
from admin.policy import Permissions, Rule
from admin.web import Staff, endpoint, runtime_of
from core.access import Cursor, DeadlineFilter, QueueFilter, queue_page
from core.cases import Channel, MessageKind, Status
from core.county import today
from core.errors import InvalidInput
from core.models import Case
from core.transfers import decide_transfer, propose_transfer, record_feedback
from core.triage import (
    Action,
    Tags,
    close_case,
    record_triage,
    refuse_case,
    write_message,
)
from core.web import read_json
from routing import Destination, Discipline, ProblemType
from routing.deadlines import deadline_status


def case_summary(case: Case, on: date) -> dict[str, Any]:
    """The plaintext metadata of SPEC §3, as the queue shows it."""
    summary: dict[str, Any] = {
        "id": case.id,
        "channel": case.channel,
        "received_on": case.received_on.isoformat(),
        "unit_id": case.unit_id,
        "categories": list(case.categories),
        "primary": case.primary,
        "problem_type": case.problem_type,
        "destination": case.destination,
        "assignee_body_id": case.assignee_body_id,
        "status": case.status,
        "status_changed_on": case.status_changed_on.isoformat(),
        "due_on": case.due_on.isoformat() if case.due_on else None,
        "days_left": None,
        "blind_index": case.blind_index,
        "attachment_count": case.attachment_count,
    }
    if case.due_on is not None:
        summary["days_left"] = deadline_status(case.due_on, on).days_left
    return summary


def _choice(value: str | None, allowed: type[Any], what: str) -> str | None:
    if not value:
        return None
    try:
        return str(allowed(value).value)
    except ValueError:
        raise InvalidInput(f"{what}取值不正确。", code="invalid_filter") from None


def queue_filter(params: Any) -> QueueFilter:
    """Filters from query parameters (shared with the HTML queue)."""
    statuses = tuple(
        str(_choice(s, Status, "状态")) for s in str(params.get("status") or "").split(",") if s
    )
    deadline = _choice(params.get("deadline"), DeadlineFilter, "期限")
    return QueueFilter(
        statuses=statuses,
        discipline=_choice(params.get("discipline"), Discipline, "纪律类别"),
        problem_type=_choice(params.get("problem_type"), ProblemType, "问题类型"),
        channel=_choice(params.get("channel"), Channel, "渠道"),
        deadline=DeadlineFilter(deadline) if deadline else None,
    )


def page_limit(params: Any) -> int:
    text = str(params.get("limit") or "50")
    if not text.isdigit():
        raise InvalidInput("limit 必须是数字。", code="invalid_filter")
    return int(text)


@endpoint(Rule.LIST_CASES)
async def list_cases(request: Request, staff: Staff) -> Response:
    params = request.query_params
    after = params.get("after")
    day = today()
    async with runtime_of(request).db.reading() as session:
        page = await queue_page(
            session,
            staff.viewer,
            queue_filter(params),
            today=day,
            after=Cursor.decode(after) if after else None,
            limit=page_limit(params),
        )
    return JSONResponse(
        {
            "cases": [case_summary(c, day) for c in page.cases],
            "next": page.next_cursor.encode() if page.next_cursor else None,
        }
    )


def dossier_json(dossier: Dossier, permissions: Permissions, on: date) -> dict[str, Any]:
    accused = dossier.accused
    return {
        **case_summary(dossier.case, on),
        "text": dossier.text,
        "accused": {"name": accused.name, "unit": accused.unit, "position": accused.position},
        "contact": dossier.contact,
        "explanation": dossier.explanation,
        "attachments": [
            {
                "id": a.id,
                "name": a.name,
                "content_type": a.content_type,
                "size": a.size,
                "url": f"/api/v1/cases/{dossier.case.id}/attachments/{a.id}",
            }
            for a in dossier.attachments
        ],
        "messages": [
            {"from": m.kind.value, "text": m.text, "on": m.on.isoformat(), "author": m.author}
            for m in dossier.thread
        ],
        "triage": [
            {
                "categories": t.categories,
                "primary": t.primary,
                "problem_type": t.problem_type,
                "destination": t.destination,
                "author": t.author,
                "reason": t.reason,
                "at": t.at.isoformat(timespec="seconds"),
            }
            for t in dossier.triage
        ],
        "transfers": [
            {
                "id": t.id,
                "destination_body": t.destination_body,
                "note": t.note,
                "decision": t.decision,
                "due_on": t.due_on.isoformat() if t.due_on else None,
                "days_left": deadline_status(t.due_on, on).days_left if t.due_on else None,
                "feedback": t.feedback,
                "feedback_on": t.feedback_on.isoformat() if t.feedback_on else None,
            }
            for t in dossier.transfers
        ],
        "related": [case_summary(c, on) for c in dossier.related],
        "allowed": sorted(rule.value for rule in usable_now(permissions, dossier.case.status)),
    }


@endpoint(Rule.READ_CASE)
async def get_case(request: Request, staff: Staff) -> Response:
    dossier, permissions = await view_case(
        runtime_of(request), staff, request.path_params["case_id"]
    )
    return JSONResponse(dossier_json(dossier, permissions, today()))


@endpoint(Rule.READ_CASE)
async def get_attachment(request: Request, staff: Staff) -> Response:
    info, handle = await download_attachment(
        runtime_of(request),
        staff,
        request.path_params["case_id"],
        request.path_params["attachment_id"],
    )
    # Always a download, never rendered: octet-stream + attachment (+ nosniff from the app).
    disposition = f"attachment; filename=\"attachment\"; filename*=UTF-8''{quote(info.name)}"
    return StreamingResponse(
        iter_file(handle),
        media_type="application/octet-stream",
        headers={"content-disposition": disposition},
        # Also closes the spooled plaintext when the client leaves before the first chunk.
        background=BackgroundTask(handle.close),
    )


def _ok(case_id: str, http_status: int = 200, **extra: Any) -> Response:
    return JSONResponse({"id": case_id, **extra}, status_code=http_status)


@endpoint(Rule.REPLY)
async def post_message(request: Request, staff: Staff) -> Response:
    body = await read_json(request)
    kind = MessageKind.STAFF_NOTE if body.get("internal") else MessageKind.FROM_HANDLER
    rule = Rule.NOTE if kind is MessageKind.STAFF_NOTE else Rule.REPLY
    case_id = request.path_params["case_id"]
    await act(
        runtime_of(request),
        staff,
        case_id,
        rule,
        lambda s, c, k: write_message(
            s, c, k, kind, body.get("text"), author_id=staff.user.id, today=today()
        ),
    )
    return _ok(case_id, 201)


@endpoint(Rule.TRIAGE)
async def post_triage(request: Request, staff: Staff) -> Response:
    body = await read_json(request)
    tags = Tags.parse(body)
    case_id = request.path_params["case_id"]
    await act(
        runtime_of(request),
        staff,
        case_id,
        Rule.TRIAGE,
        lambda s, c, k: record_triage(
            s, c, k, tags, body.get("reason"), author_id=staff.user.id, today=today()
        ),
    )
    return _ok(case_id, status=Status.TRIAGED.value)


@endpoint(Rule.PROPOSE_TRANSFER)
async def post_transfer(request: Request, staff: Staff) -> Response:
    body = await read_json(request)
    destination = _choice(body.get("destination"), Destination, "移交去向")
    if destination is None:
        raise InvalidInput("请选择移交去向。", code="invalid_field")
    case_id = request.path_params["case_id"]
    await act(
        runtime_of(request),
        staff,
        case_id,
        Rule.PROPOSE_TRANSFER,
        lambda s, c, k: propose_transfer(
            s,
            c,
            k,
            Destination(destination),
            body.get("note"),
            author_id=staff.user.id,
            today=today(),
        ),
    )
    return _ok(case_id, status=Status.TRANSFER_PROPOSED.value)


async def _decide(request: Request, staff: Staff, *, approve: bool) -> Response:
    reason = None
    if not approve:
        reason = (await read_json(request)).get("reason")
    case_id = request.path_params["case_id"]
    day = today()
    transfer = await act(
        runtime_of(request),
        staff,
        case_id,
        Rule.DECIDE_TRANSFER,
        lambda s, c, k: decide_transfer(
            s, c, k, approve=approve, decider_id=staff.user.id, today=day, reason=reason
        ),
    )
    if not approve:
        return _ok(case_id, status=Status.TRIAGED.value)
    due = transfer.due_on
    return _ok(
        case_id,
        status=Status.TRANSFERRED.value,
        due_on=due.isoformat() if due else None,
        days_left=deadline_status(due, day).days_left if due else None,
    )


@endpoint(Rule.DECIDE_TRANSFER)
async def post_transfer_approve(request: Request, staff: Staff) -> Response:
    return await _decide(request, staff, approve=True)


@endpoint(Rule.DECIDE_TRANSFER)
async def post_transfer_reject(request: Request, staff: Staff) -> Response:
    return await _decide(request, staff, approve=False)


@endpoint(Rule.FEEDBACK)
async def post_feedback(request: Request, staff: Staff) -> Response:
    body = await read_json(request)
    case_id = request.path_params["case_id"]
    await act(
        runtime_of(request),
        staff,
        case_id,
        Rule.FEEDBACK,
        lambda s, c, k: record_feedback(
            s, c, k, body.get("text"), author_id=staff.user.id, today=today()
        ),
    )
    return _ok(case_id, status=Status.FEEDBACK_RECEIVED.value)


_REFUSALS = {
    "duplicate": (Action.DUPLICATE, Status.DUPLICATE),
    "not_accepted": (Action.NOT_ACCEPT, Status.NOT_ACCEPTED),
}


async def _optional_json(request: Request) -> dict[str, Any]:
    """SPEC §6 close has no body; an empty POST is a plain 销号."""
    if request.headers.get("content-length", "0") == "0" and "chunked" not in request.headers.get(
        "transfer-encoding", ""
    ):
        return {}
    return await read_json(request)


@endpoint(Rule.CLOSE)
async def post_close(request: Request, staff: Staff) -> Response:
    """销号; with ``{"outcome": "duplicate"|"not_accepted", "reason"}`` it refuses instead."""
    body = await _optional_json(request)
    outcome = body.get("outcome") or "closed"
    case_id = request.path_params["case_id"]
    runtime, day, actor_id = runtime_of(request), today(), staff.user.id
    if outcome == "closed":
        await act(
            runtime,
            staff,
            case_id,
            Rule.CLOSE,
            lambda s, c, _k: close_case(s, c, actor_id=actor_id, today=day),
        )
        return _ok(case_id, status=Status.CLOSED.value)
    if outcome not in _REFUSALS:
        raise InvalidInput("outcome 取值不正确。", code="invalid_field")
    action, status = _REFUSALS[outcome]
    duplicate_of = body.get("duplicate_of")
    await act(
        runtime,
        staff,
        case_id,
        Rule.CLOSE,
        lambda s, c, k: refuse_case(
            s,
            c,
            k,
            action,
            body.get("reason"),
            actor_id=actor_id,
            today=day,
            duplicate_of=duplicate_of if isinstance(duplicate_of, str) else None,
        ),
    )
    return _ok(case_id, status=status.value)


_CASE = "/api/v1/cases/{case_id:str}"
routes: list[BaseRoute] = [
    Route("/api/v1/cases", list_cases, methods=["GET"]),
    Route(_CASE, get_case, methods=["GET"]),
    Route(_CASE + "/attachments/{attachment_id:str}", get_attachment, methods=["GET"]),
    Route(_CASE + "/messages", post_message, methods=["POST"]),
    Route(_CASE + "/triage", post_triage, methods=["POST"]),
    Route(_CASE + "/transfer", post_transfer, methods=["POST"]),
    Route(_CASE + "/transfer/approve", post_transfer_approve, methods=["POST"]),
    Route(_CASE + "/transfer/reject", post_transfer_reject, methods=["POST"]),
    Route(_CASE + "/feedback", post_feedback, methods=["POST"]),
    Route(_CASE + "/close", post_close, methods=["POST"]),
]
