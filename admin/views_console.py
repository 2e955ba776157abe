"""The triage console (HTML, zh-CN): the queue, the case page and its action forms.

Forms post to ``/cases/{id}/…`` with the CSRF token; each action is the same operation the
JSON API runs (``admin.casework``), then redirects back to the case (303, Post/Redirect/Get).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from admin.casework import act, view_case
from admin.policy import Rule
from admin.views_cases_api import page_limit, queue_filter
from admin.web import Staff, endpoint, form_text, render, runtime_of
from core.access import Cursor, queue_page
from core.cases import MessageKind, Status
from core.county import today
from core.errors import InvalidInput
from core.models import Body, Case, Unit
from core.transfers import decide_transfer, propose_transfer, record_feedback
from core.triage import (
    Action,
    Tags,
    allowed_actions,
    close_case,
    record_triage,
    refuse_case,
    write_message,
)
from crypto import CaseKey as DataKey
from routing import Destination
from routing.deadlines import DeadlineStatus, deadline_status


def _deadline(on: date) -> Callable[[date], DeadlineStatus]:
    return lambda due: deadline_status(due, on)


async def _names(session: AsyncSession) -> dict[str, str]:
    names: dict[str, str] = {}
    for unit_id, name in await session.execute(select(Unit.id, Unit.name)):
        names[unit_id] = name
    for body_id, name in await session.execute(select(Body.id, Body.name)):
        names[body_id] = name
    return names


@endpoint(Rule.LIST_CASES)
async def queue(request: Request, staff: Staff) -> Response:
    params = request.query_params
    filters = queue_filter(params)
    after = params.get("after")
    day = today()
    async with runtime_of(request).db.reading() as session:
        page = await queue_page(
            session,
            staff.viewer,
            filters,
            today=day,
            after=Cursor.decode(after) if after else None,
            limit=page_limit(params),
        )
        names = await _names(session)
    next_url = None
    if page.next_cursor is not None:
        kept = {k: v for k, v in params.items() if k != "after" and v}
        next_url = "/?" + urlencode({**kept, "after": page.next_cursor.encode()})
    return render(
        request,
        staff,
        "queue.html",
        cases=page.cases,
        filters=filters,
        names=names,
        next_url=next_url,
        deadline=_deadline(day),
    )


@endpoint(Rule.READ_CASE)
async def case_page(request: Request, staff: Staff) -> Response:
    dossier, permissions = await view_case(
        runtime_of(request), staff, request.path_params["case_id"]
    )
    day = today()
    due = deadline_status(dossier.case.due_on, day) if dossier.case.due_on else None
    # Forms are shown when the role may act (policy) and the case's state allows it (triage).
    possible = {action.value for action in allowed_actions(Status(dossier.case.status))}
    return render(
        request,
        staff,
        "case.html",
        dossier=dossier,
        allowed={rule.value for rule in permissions.granted},
        possible=possible,
        due=due,
        deadline=_deadline(day),
    )


FormWork = Callable[
    [Staff, FormData, date], Callable[[AsyncSession, Case, DataKey], Awaitable[Any]]
]


def _action(rule: Rule, work: FormWork) -> Callable[[Request], Awaitable[Response]]:
    """A console form: run ``work`` under ``rule`` on the case, then back to the case page."""

    @endpoint(rule)
    async def submit(request: Request, staff: Staff) -> Response:
        case_id = request.path_params["case_id"]
        form = await request.form()
        await act(runtime_of(request), staff, case_id, rule, work(staff, form, today()))
        return RedirectResponse(f"/cases/{case_id}", status_code=303)

    return submit


def _triage(staff: Staff, form: FormData, day: date) -> Any:
    tags = Tags.parse(
        {
            "categories": [str(v) for v in form.getlist("categories")],
            "primary": form_text(form, "primary") or None,
            "problem_type": form_text(form, "problem_type"),
            "destination": form_text(form, "destination"),
        }
    )
    return lambda s, c, k: record_triage(
        s, c, k, tags, form_text(form, "reason"), author_id=staff.user.id, today=day
    )


def _transfer(staff: Staff, form: FormData, day: date) -> Any:
    try:
        destination = Destination(form_text(form, "destination"))
    except ValueError:
        raise InvalidInput("请选择移交去向。", code="invalid_field") from None
    return lambda s, c, k: propose_transfer(
        s, c, k, destination, form_text(form, "note"), author_id=staff.user.id, today=day
    )


def _decision(approve: bool) -> FormWork:
    def work(staff: Staff, form: FormData, day: date) -> Any:
        reason = None if approve else form_text(form, "reason")
        return lambda s, c, k: decide_transfer(
            s, c, k, approve=approve, decider_id=staff.user.id, today=day, reason=reason
        )

    return work


def _feedback(staff: Staff, form: FormData, day: date) -> Any:
    return lambda s, c, k: record_feedback(
        s, c, k, form_text(form, "text"), author_id=staff.user.id, today=day
    )


def _message(kind: MessageKind) -> FormWork:
    def work(staff: Staff, form: FormData, day: date) -> Any:
        return lambda s, c, k: write_message(
            s, c, k, kind, form_text(form, "text"), author_id=staff.user.id, today=day
        )

    return work


_REFUSALS = {"duplicate": Action.DUPLICATE, "not_accepted": Action.NOT_ACCEPT}


def _close(staff: Staff, form: FormData, day: date) -> Any:
    outcome = form_text(form, "outcome") or "closed"
    if outcome == "closed":
        return lambda s, c, _k: close_case(s, c, actor_id=staff.user.id, today=day)
    if outcome not in _REFUSALS:
        raise InvalidInput("处理方式不正确。", code="invalid_field")
    return lambda s, c, k: refuse_case(
        s, c, k, _REFUSALS[outcome], form_text(form, "reason"), actor_id=staff.user.id, today=day
    )


_CASE = "/cases/{case_id:str}"
routes: list[BaseRoute] = [
    Route("/", queue, methods=["GET"]),
    Route(_CASE, case_page, methods=["GET"]),
    Route(_CASE + "/triage", _action(Rule.TRIAGE, _triage), methods=["POST"]),
    Route(_CASE + "/transfer", _action(Rule.PROPOSE_TRANSFER, _transfer), methods=["POST"]),
    Route(
        _CASE + "/transfer/approve",
        _action(Rule.DECIDE_TRANSFER, _decision(True)),
        methods=["POST"],
    ),
    Route(
        _CASE + "/transfer/reject",
        _action(Rule.DECIDE_TRANSFER, _decision(False)),
        methods=["POST"],
    ),
    Route(_CASE + "/feedback", _action(Rule.FEEDBACK, _feedback), methods=["POST"]),
    Route(
        _CASE + "/messages",
        _action(Rule.REPLY, _message(MessageKind.FROM_HANDLER)),
        methods=["POST"],
    ),
    Route(_CASE + "/notes", _action(Rule.NOTE, _message(MessageKind.STAFF_NOTE)), methods=["POST"]),
    Route(_CASE + "/close", _action(Rule.CLOSE, _close), methods=["POST"]),
]
