"""Oversight for 巡察办 and 领导小组: counts over plaintext metadata only, nothing decrypted.

Tallies by status and problem type, 移交 awaiting approval, and transfers past their one-month
feedback date (第十九条). Cases the viewer is recused from (回避) are left out of every number.
"""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from admin.policy import Rule
from admin.web import Staff, endpoint, render, runtime_of
from core.access import not_recused
from core.cases import Status
from core.county import today
from core.models import Case


@endpoint(Rule.OVERSIGHT)
async def oversight_page(request: Request, staff: Staff) -> Response:
    day = today()
    allowed = not_recused(staff.viewer)
    async with runtime_of(request).db.reading() as session:
        grid: dict[str, dict[str, int]] = {}
        query = (
            select(Case.status, Case.problem_type, func.count())
            .where(allowed)
            .group_by(Case.status, Case.problem_type)
        )
        for status, problem, count in await session.execute(query):
            grid.setdefault(status, {})[problem] = count
        overdue = await session.scalar(
            select(func.count())
            .select_from(Case)
            .where(allowed, Case.status == Status.TRANSFERRED.value, Case.due_on < day)
        )
    return render(request, staff, "oversight.html", grid=grid, overdue=overdue or 0)


routes: list[BaseRoute] = [Route("/oversight", oversight_page, methods=["GET"])]
