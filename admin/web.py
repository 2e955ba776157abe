"""What every staff page and API endpoint shares: the signed-in user, the rule check, CSRF,
templates and error pages.

Usage (also for pages added by other modules; see docs/staff-console.md)::

    @endpoint(Rule.ADMINISTER)
    async def units_page(request: Request, staff: Staff) -> Response:
        return render(request, staff, "units.html", units=...)

    routes = [Route("/admin/units", units_page, methods=["GET"])]

``endpoint`` loads the session, refuses anonymous users (API: 401 JSON; page: redirect to
/login), asks :func:`admin.policy.allows`, and for unsafe methods checks the request's origin
and, on HTML forms, the CSRF token (field ``csrf``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from admin.auth import is_demo_user
from admin.labels import TEMPLATE_GLOBALS
from admin.policy import Actor, Rule, allows
from admin.sessions import (
    COOKIE_NAME,
    SessionToken,
    csrf_token,
    csrf_valid,
    load_session,
    needs_touch,
    session_keypair,
    touch_session,
)
from core.access import Viewer
from core.county import BodyKind, Role, now
from core.errors import Forbidden, XunchaError
from core.models import Body, Membership, StaffSession, User
from core.runtime import Runtime
from core.web import EXCEPTION_HANDLERS, error_response
from crypto import KeyPair

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.globals.update(TEMPLATE_GLOBALS)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotSignedIn(XunchaError):
    code = "not_signed_in"
    status = 401

    def __init__(self) -> None:
        super().__init__("请先登录。")


class CsrfRejected(Forbidden):
    code = "csrf_rejected"

    def __init__(self) -> None:
        super().__init__("表单已过期或来源不正确，请刷新页面后重试。")


@dataclass(frozen=True)
class Staff:
    """The signed-in user of one request."""

    user: User
    actor: Actor
    token: SessionToken
    row: StaffSession
    bodies: tuple[Body, ...]

    @property
    def viewer(self) -> Viewer:
        return Viewer(self.user.id, self.actor.body_ids)

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)

    def keypair(self) -> KeyPair:
        keys = session_keypair(self.row, self.token)
        if keys is None:
            raise NotSignedIn
        return keys


Handler = Callable[[Request, Staff], Awaitable[Response]]
PublicHandler = Callable[[Request, Staff | None], Awaitable[Response]]


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def current_staff(request: Request) -> Staff | None:
    """The user of a live session named by the cookie, or None."""
    token = request.app.state.cookies.decode(request.cookies.get(COOKIE_NAME))
    if token is None:
        return None
    runtime = runtime_of(request)
    async with runtime.db.reading() as session:
        row = await load_session(session, token)
        user = await session.get(User, row.user_id) if row is not None else None
        if row is None or user is None or user.disabled_at is not None:
            return None
        bodies = tuple(
            await session.scalars(
                select(Body)
                .join(Membership, Membership.body_id == Body.id)
                .where(Membership.user_id == user.id)
            )
        )
        demo = await is_demo_user(session, user)
    if needs_touch(row, now()):
        async with runtime.db.transaction() as session:
            await touch_session(session, row.id)
    actor = Actor(
        user_id=user.id,
        role=Role(user.role),
        body_ids=frozenset(b.id for b in bodies),
        body_kinds=frozenset(BodyKind(b.kind) for b in bodies),
        enrolled=demo or user.totp_secret is not None,
    )
    return Staff(user, actor, token, row, bodies)


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/")


def check_origin(request: Request) -> None:
    """Refuse cross-site writes: browsers send Origin (or Sec-Fetch-Site) on every POST.

    The session cookie is SameSite=Strict already; this is the second lock, and it also
    covers JSON API calls, whose clients (scripts, tests) send no CSRF token.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site not in ("same-origin", "none"):
            raise CsrfRejected
        # The browser vouches for the origin. Its Origin header may well be "null": with our
        # Referrer-Policy: no-referrer, Chromium sends Origin: null on same-origin form posts.
        return
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        if urlsplit(origin).netloc != request.headers.get("host", ""):
            raise CsrfRejected
    elif origin == "null":
        raise CsrfRejected


def endpoint(rule: Rule) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler that needs a signed-in user allowed by ``rule``."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            staff = await current_staff(request)
            if staff is None:
                if wants_html(request):
                    return RedirectResponse("/login", status_code=303)
                raise NotSignedIn
            if not allows(staff.actor, rule):
                if not staff.actor.enrolled and wants_html(request):
                    return RedirectResponse("/account/totp", status_code=303)
                raise Forbidden("没有权限。")
            if request.method not in SAFE_METHODS:
                check_origin(request)
                if wants_html(request):
                    form = await request.form()
                    if not csrf_valid(staff.token, _field(form, "csrf")):
                        await form.close()  # uploaded files of a refused form
                        raise CsrfRejected
            return await handler(request, staff)

        run.rule = rule  # type: ignore[attr-defined]
        return run

    return wrap


def public_endpoint(handler: PublicHandler) -> Callable[[Request], Awaitable[Response]]:
    """A page anyone may open (Rule.PUBLIC); it still learns who is signed in, if anyone."""

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        if request.method not in SAFE_METHODS:
            check_origin(request)
        return await handler(request, await current_staff(request))

    run.rule = Rule.PUBLIC  # type: ignore[attr-defined]
    return run


def rule_of(endpoint_function: object) -> Rule | None:
    rule = getattr(endpoint_function, "rule", None)
    return rule if isinstance(rule, Rule) else None


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def form_text(form: FormData, name: str) -> str:
    return (_field(form, name) or "").strip()


def render(
    request: Request, staff: Staff | None, template: str, *, status: int = 200, **context: Any
) -> Response:
    """Render a page inside layout.html; ``staff``, ``csrf`` and ``may`` are always there."""
    actor = staff.actor if staff is not None else None
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "staff": staff,
            "csrf": staff.csrf if staff is not None else "",
            "may": lambda rule: allows(actor, Rule(rule)),
            **context,
        },
        status_code=status,
    )


async def html_or_json_error(request: Request, exc: Exception) -> Response:
    """API paths get SPEC §6 JSON errors; pages get the same message in the layout."""
    if not wants_html(request):
        for kind, handler in EXCEPTION_HANDLERS.items():
            if isinstance(exc, kind):
                response: Response = await handler(request, exc)
                return response
    if isinstance(exc, XunchaError):
        status, message = exc.status, exc.message
    elif isinstance(exc, HTTPException):
        status, message = exc.status_code, "页面不存在或请求不正确。"
    else:
        await EXCEPTION_HANDLERS[Exception](request, exc)  # logs the type, never the text
        status, message = 500, "服务器暂时无法处理，请稍后再试。"
    return TEMPLATES.TemplateResponse(
        request,
        "error.html",
        {"staff": None, "csrf": "", "may": lambda _rule: False, "message": message},
        status_code=status,
    )


def api_error(code: str, message: str, status: int) -> Response:
    return error_response(code, message, status)
