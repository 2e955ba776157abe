"""Login, logout, 2FA enrolment, password change and recovery: pages and the session API
(SPEC §6)."""

from __future__ import annotations

import base64
import hmac
import secrets
import time

import segno
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import update
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from admin.auth import Authenticator, LoginOutcome, seal_totp_secret
from admin.password_policy import check_password, suggest_passphrase
from admin.policy import Rule
from admin.sessions import COOKIE_NAME, csrf_token, revoke_session, revoke_user_sessions
from admin.throttle import LoginThrottled, recover_with_code_throttled
from admin.web import (
    CsrfRejected,
    Staff,
    endpoint,
    form_text,
    public_endpoint,
    render,
    runtime_of,
)
from core.audit import append_event
from core.county import Role
from core.errors import InvalidInput, XunchaError
from core.models import User
from core.web import read_json
from crypto import new_totp_secret, totp_provisioning_uri, verify_totp

ISSUER = "巡察信访举报受理"
ENROLMENT_MAX_AGE = 600
# The recovery form is public, so there is no session to bind its CSRF token to: GET sets a
# random nonce in a __Host- cookie (SameSite=Strict, so a cross-site POST arrives without it)
# and puts the signed nonce in the form; POST needs both to match.
RECOVER_COOKIE = "__Host-xuncha-recover"
RECOVER_FORM_MAX_AGE = 1800


def _authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


def start_page(outcome: LoginOutcome) -> str:
    """Where a user lands after login: operators cannot list cases, so they start at entry."""
    return "/hotline" if outcome.user.role == Role.OPERATOR.value else "/"


def _set_cookie(request: Request, response: Response, outcome: LoginOutcome) -> None:
    # __Host-: Secure, Path=/, no Domain, so no sibling host can set or read it.
    response.set_cookie(
        COOKIE_NAME,
        request.app.state.cookies.encode(outcome.token),
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )


def _clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True, samesite="strict")


def _throttled_headers(exc: XunchaError) -> dict[str, str]:
    return {"retry-after": str(exc.retry_after)} if isinstance(exc, LoginThrottled) else {}


# --- the JSON API ----------------------------------------------------------------------------


@public_endpoint
async def api_login(request: Request, _staff: Staff | None) -> Response:
    body = await read_json(request, max_bytes=4096)
    username, password, code = body.get("username"), body.get("password"), body.get("totp")
    if not isinstance(username, str) or not isinstance(password, str):
        raise InvalidInput("请填写用户名和密码。", code="invalid_field")
    if code is not None and not isinstance(code, str):
        raise InvalidInput("动态验证码格式不正确。", code="invalid_field")
    try:
        outcome = await _authenticator(request).login(username, password, code)
    except XunchaError as exc:
        headers = _throttled_headers(exc)
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message}}, exc.status, headers=headers
        )
    payload: dict[str, object] = {
        "user": {"username": outcome.user.username, "role": outcome.user.role},
        "totp_enrolled": outcome.enrolled,
        "csrf_token": csrf_token(outcome.token),
    }
    if outcome.recovery_code is not None:
        payload["recovery_code"] = outcome.recovery_code
    response = JSONResponse(payload)
    _set_cookie(request, response, outcome)
    return response


@endpoint(Rule.SIGNED_IN)
async def api_logout(request: Request, staff: Staff) -> Response:
    await _end_session(request, staff)
    response = Response(status_code=204)
    _clear_cookie(response)
    return response


async def _end_session(request: Request, staff: Staff) -> None:
    async with runtime_of(request).db.transaction() as session:
        await revoke_session(session, staff.row.id)
        await append_event(session, "staff.logout", actor_id=staff.user.id)


# --- pages -----------------------------------------------------------------------------------


@public_endpoint
async def login_page(request: Request, staff: Staff | None) -> Response:
    if staff is not None:
        return RedirectResponse("/", status_code=303)
    return render(request, None, "login.html", error=None, username="")


@public_endpoint
async def login_submit(request: Request, _staff: Staff | None) -> Response:
    form = await request.form()
    username = form_text(form, "username")
    password = form.get("password")
    try:
        outcome = await _authenticator(request).login(
            username, password if isinstance(password, str) else "", form_text(form, "totp")
        )
    except XunchaError as exc:
        response = render(
            request, None, "login.html", status=exc.status, error=exc.message, username=username
        )
        response.headers.update(_throttled_headers(exc))
        return response
    next_page = start_page(outcome) if outcome.enrolled else "/account/totp"
    if outcome.recovery_code is not None:
        response = render(
            request, None, "recovery.html", recovery_code=outcome.recovery_code, next=next_page
        )
    else:
        response = RedirectResponse(next_page, status_code=303)
    _set_cookie(request, response, outcome)
    return response


@endpoint(Rule.SIGNED_IN)
async def logout_submit(request: Request, staff: Staff) -> Response:
    await _end_session(request, staff)
    response = RedirectResponse("/login", status_code=303)
    _clear_cookie(response)
    return response


def _enrolment_serializer(request: Request) -> URLSafeTimedSerializer:
    keys = list(reversed(runtime_of(request).secrets.cookie_keys))
    return URLSafeTimedSerializer(keys, salt="xuncha/totp-enrolment/v1")


def _totp_page(request: Request, staff: Staff, error: str | None = None) -> Response:
    if staff.user.totp_secret is not None:
        return render(request, staff, "totp.html", enrolled=True)
    secret = new_totp_secret()
    secret_text = base64.b32encode(secret).decode("ascii").rstrip("=")
    # The pending secret travels signed and bound to this session; it is stored only once a
    # code proves the authenticator app has it.
    pending = _enrolment_serializer(request).dumps({"s": secret_text, "sid": staff.row.id})
    uri = totp_provisioning_uri(secret, staff.user.username, ISSUER)
    qr = segno.make(uri, error="m").svg_data_uri(scale=6, border=2)
    return render(
        request,
        staff,
        "totp.html",
        status=422 if error else 200,
        enrolled=False,
        error=error,
        qr=qr,
        secret_text=secret_text,
        pending=pending,
    )


@endpoint(Rule.SIGNED_IN)
async def totp_page(request: Request, staff: Staff) -> Response:
    return _totp_page(request, staff)


@endpoint(Rule.SIGNED_IN)
async def totp_submit(request: Request, staff: Staff) -> Response:
    form = await request.form()
    try:
        pending = _enrolment_serializer(request).loads(
            form_text(form, "pending"), max_age=ENROLMENT_MAX_AGE
        )
    except BadSignature:
        return _totp_page(request, staff, "二维码已过期，请重新扫描。")
    if staff.user.totp_secret is not None or pending.get("sid") != staff.row.id:
        return _totp_page(request, staff, "二维码已过期，请重新扫描。")
    text = str(pending["s"])
    secret = base64.b32decode(text + "=" * (-len(text) % 8))
    step = verify_totp(secret, form_text(form, "code"), time.time())
    if step is None:
        return _totp_page(request, staff, "验证码不正确，请使用新的二维码重试。")
    runtime = runtime_of(request)
    async with runtime.db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.id == staff.user.id, User.totp_secret.is_(None))
            .values(
                totp_secret=seal_totp_secret(runtime, staff.user.id, secret), totp_last_step=step
            )
        )
        await append_event(session, "staff.totp_enrolled", actor_id=staff.user.id)
    return RedirectResponse("/", status_code=303)


@endpoint(Rule.ACCOUNT)
async def account_page(request: Request, staff: Staff) -> Response:
    return render(request, staff, "account.html", error=None, suggestion=suggest_passphrase())


@endpoint(Rule.ACCOUNT)
async def password_submit(request: Request, staff: Staff) -> Response:
    form = await request.form()
    current, new, confirm = (str(form.get(k) or "") for k in ("current", "new", "confirm"))
    authenticator = _authenticator(request)
    error = None
    if await authenticator.password_matches(staff.user, current) is None:
        error = "当前密码不正确。"
    elif new != confirm:
        error = "两次输入的新密码不一致。"
    else:
        try:
            check_password(new, staff.user.username)
        except InvalidInput as exc:
            error = exc.message
    if error is not None:
        return render(
            request, staff, "account.html", status=422, error=error, suggestion=suggest_passphrase()
        )
    values = await authenticator.password_values(staff.user.id, new, staff.keypair())
    async with runtime_of(request).db.transaction() as session:
        await session.execute(update(User).where(User.id == staff.user.id).values(**values))
        # Every session dies, this one too: a password change is how a user evicts a thief.
        await revoke_user_sessions(session, staff.user.id)
        await append_event(session, "staff.password_changed", actor_id=staff.user.id)
    response = RedirectResponse("/login", status_code=303)
    _clear_cookie(response)
    return response


# --- password recovery with the recovery code (public) ----------------------------------------


def _recover_serializer(request: Request) -> URLSafeTimedSerializer:
    keys = list(reversed(runtime_of(request).secrets.cookie_keys))
    return URLSafeTimedSerializer(keys, salt="xuncha/recover-form/v1")


def _recover_form(
    request: Request, *, status: int = 200, error: str | None = None, username: str = ""
) -> Response:
    nonce = secrets.token_urlsafe(16)
    response = render(
        request,
        None,
        "recover.html",
        status=status,
        error=error,
        username=username,
        csrf=_recover_serializer(request).dumps(nonce),
    )
    response.set_cookie(
        RECOVER_COOKIE,
        nonce,
        max_age=RECOVER_FORM_MAX_AGE,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return response


def _check_recover_csrf(request: Request, token: str) -> None:
    try:
        nonce = _recover_serializer(request).loads(token, max_age=RECOVER_FORM_MAX_AGE)
    except BadSignature:
        raise CsrfRejected from None
    cookie = request.cookies.get(RECOVER_COOKIE, "")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce, cookie):
        raise CsrfRejected


@public_endpoint
async def recover_page(request: Request, staff: Staff | None) -> Response:
    if staff is not None:
        return RedirectResponse("/account", status_code=303)
    return _recover_form(request)


@public_endpoint
async def recover_submit(request: Request, _staff: Staff | None) -> Response:
    """Username + recovery code + new password: the same key under a new password, a new code.

    Throttled on the login counter (a guessed code costs what a guessed password costs), one
    answer for every wrong input, the code never logged; the second factor stays, and every
    session ends, so the user signs in again with the new password and their authenticator.
    """
    form = await request.form()
    _check_recover_csrf(request, form_text(form, "csrf"))
    username = form_text(form, "username")
    password = form.get("password")
    password = password if isinstance(password, str) else ""
    code = form_text(form, "code")
    try:
        if password != form.get("password_again"):
            raise XunchaError("两次输入的新密码不一致。", code="password_mismatch", status=422)
        check_password(password, username)
        enrolment = await recover_with_code_throttled(
            _authenticator(request).throttle, username, code, password
        )
    except XunchaError as exc:
        response = _recover_form(request, status=exc.status, error=exc.message, username=username)
        response.headers.update(_throttled_headers(exc))
        return response
    response = render(
        request,
        None,
        "recovery.html",
        recovery_code=enrolment.recovery_code,
        next="/login",
        recovered=True,
    )
    response.delete_cookie(RECOVER_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


routes: list[BaseRoute] = [
    Route("/api/v1/session", api_login, methods=["POST"]),
    Route("/api/v1/session", api_logout, methods=["DELETE"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout_submit, methods=["POST"]),
    Route("/recover", recover_page, methods=["GET"]),
    Route("/recover", recover_submit, methods=["POST"]),
    Route("/account", account_page, methods=["GET"]),
    Route("/account/password", password_submit, methods=["POST"]),
    Route("/account/totp", totp_page, methods=["GET"]),
    Route("/account/totp", totp_submit, methods=["POST"]),
]
