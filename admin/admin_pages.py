"""Administration pages of the staff console: accepting an invitation (/invitation, public),
and the administrators' pages under /admin (``admin_people``, ``admin_county``).

The invitation page is public (the invitee has no account yet); the code travels only in the
POST body, never in a URL, so it cannot end up in a log or a browser history. Accepting sets
the password (the console's password rules plus core's minimum), seals the private key under
it and shows the recovery code once.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from admin import admin_county, admin_people
from admin.password_policy import check_password
from admin.web import Staff, form_text, public_endpoint, render, runtime_of
from core.errors import XunchaError
from core.invitations import accept_invitation, invitation_lookup
from core.models import User


@public_endpoint
async def invitation_page(request: Request, _staff: Staff | None) -> Response:
    return render(request, None, "admin_invitation.html", error=None)


async def _invitee(request: Request, token: str) -> str:
    """The invitee's username, to apply the 'no username in the password' rule first."""
    runtime = runtime_of(request)
    async with runtime.db.reading() as session:
        username = await session.scalar(
            select(User.username).where(User.invitation_lookup == invitation_lookup(token))
        )
    return username or ""


@public_endpoint
async def invitation_submit(request: Request, _staff: Staff | None) -> Response:
    form = await request.form()
    token = "".join(form_text(form, "code").split())
    password = form.get("password")
    password = password if isinstance(password, str) else ""
    runtime = runtime_of(request)
    try:
        if password != form.get("password_again"):
            raise XunchaError("两次输入的密码不一致。", code="password_mismatch", status=422)
        check_password(password, await _invitee(request, token))
        async with runtime.db.transaction() as session:
            enrolment = await accept_invitation(
                session,
                token,
                password,
                params=runtime.settings.password_kdf,
                pepper=runtime.secrets.pepper,
                pool=runtime.kdf_pool,
            )
    except XunchaError as exc:
        return render(request, None, "admin_invitation.html", status=exc.status, error=exc.message)
    return render(
        request,
        None,
        "recovery.html",
        recovery_code=enrolment.recovery_code,
        next="/login",
    )


routes: list[BaseRoute] = [
    Route("/invitation", invitation_page, methods=["GET"]),
    Route("/invitation", invitation_submit, methods=["POST"]),
    *admin_people.routes,
    *admin_county.routes,
]
