"""The audit log page for 巡察办 and 领导小组: events newest first, and a chain check.

Events carry who, what and which case, never report content (core.audit), so showing them
decrypts nothing; events of cases the viewer is recused from (回避) are not shown. Verifying
the chain reads every event: it runs only when asked for.
"""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import exists, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from admin.policy import Rule
from admin.web import Staff, endpoint, render, runtime_of
from core.access import recused
from core.audit import verify_audit_chain
from core.errors import InvalidInput
from core.models import Case, Event, User

PAGE_SIZE = 100


@endpoint(Rule.VIEW_AUDIT)
async def audit_page(request: Request, staff: Staff) -> Response:
    params = request.query_params
    before_text = params.get("before", "")
    if before_text and not before_text.isdigit():
        raise InvalidInput("分页参数不正确。", code="invalid_cursor")
    kind = params.get("kind", "").strip()
    # 回避 reaches the audit log too: events of a case the viewer is recused from are left out,
    # so not even the case's id and activity show.
    hidden = exists().where(Case.id == Event.case_id, recused(staff.viewer))
    query = select(Event).where(~hidden).order_by(Event.seq.desc()).limit(PAGE_SIZE + 1)
    if before_text:
        query = query.where(Event.seq < int(before_text))
    if kind:
        query = query.where(Event.kind == kind)
    async with runtime_of(request).db.reading() as session:
        events = list(await session.scalars(query))
        usernames: dict[str, str] = {}
        for user_id, username in await session.execute(select(User.id, User.username)):
            usernames[user_id] = username
        verdict = await verify_audit_chain(session) if params.get("verify") else None
    next_url = None
    if len(events) > PAGE_SIZE:
        events = events[:PAGE_SIZE]
        kept = {"kind": kind} if kind else {}
        next_url = "/audit?" + urlencode({**kept, "before": events[-1].seq})
    return render(
        request,
        staff,
        "audit.html",
        events=events,
        usernames=usernames,
        verdict=verdict,
        kind=kind,
        next_url=next_url,
    )


routes: list[BaseRoute] = [Route("/audit", audit_page, methods=["GET"])]
