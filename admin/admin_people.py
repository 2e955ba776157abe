"""Console pages for administrators: users (invite, re-invite, disable, reset 2FA, key grants,
escrow recovery) and 回避.

Every page needs Rule.ADMINISTER, escrow recovery Rule.RECOVER_WITH_ESCROW. A failed action
re-renders its page with the message; an invitation code is shown once, on the page that
created it, and never put in a URL.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from admin.policy import Rule
from admin.web import Staff, endpoint, form_text, render, runtime_of
from core import body_keys, invitations, recusals, staff_admin
from core.county import BodyKind, body_by_name, now
from core.errors import Conflict, InvalidInput, XunchaError
from core.models import Body, Membership, Recusal, Unit, User

BODY_KIND_LABELS = {
    BodyKind.INSPECTION_GROUP: "巡察组",
    BodyKind.OFFICE: "县委巡察办",
    BodyKind.DISCIPLINE_COMMISSION: "县纪委",
    BodyKind.ORGANIZATION_DEPARTMENT: "县委组织部",
    BodyKind.UNIT_PARTY_ORG: "被巡察单位党组织",
    BodyKind.RELEVANT_DEPARTMENT: "相关部门",
    BodyKind.LEADING_GROUP: "巡察工作领导小组",
}


async def _users_context(request: Request, staff: Staff) -> dict[str, Any]:
    async with runtime_of(request).db.reading() as session:
        users = list(await session.scalars(select(User).order_by(User.username)))
        bodies = list(await session.scalars(select(Body).order_by(Body.kind, Body.name)))
        names = {b.id: b.name for b in bodies}
        member_of: dict[str, list[str]] = defaultdict(list)
        for user_id, body_id in await session.execute(
            select(Membership.user_id, Membership.body_id)
        ):
            member_of[user_id].append(names[body_id])
        pending = await body_keys.pending_grants(session)
    mine = {b.name for b in staff.bodies}
    at = now()
    return {
        "users": users,
        "user_states": {u.id: staff_admin.user_state(u, at) for u in users},
        "bodies": bodies,
        "member_of": member_of,
        "pending": pending,
        "grantable": sorted({p.body_name for p in pending} & mine),
        "role_labels": {role.value: label for role, label in staff_admin.ROLE_LABELS.items()},
        "body_kinds": {kind.value: label for kind, label in BODY_KIND_LABELS.items()},
    }


async def _users_page(
    request: Request, staff: Staff, *, status: int = 200, **extra: Any
) -> Response:
    context = await _users_context(request, staff)
    return render(request, staff, "admin_users.html", status=status, **{**context, **extra})


@endpoint(Rule.ADMINISTER)
async def users_page(request: Request, staff: Staff) -> Response:
    return await _users_page(request, staff)


@endpoint(Rule.ADMINISTER)
async def invite_submit(request: Request, staff: Staff) -> Response:
    form = await request.form()
    username = form_text(form, "username")
    try:
        async with runtime_of(request).db.transaction() as session:
            invitation, granted = await staff_admin.invite_user(
                session,
                username,
                staff_admin.parse_role(form_text(form, "role")),
                email=form_text(form, "email"),
                body_name=form_text(form, "body") or None,
                actor_id=staff.user.id,
            )
    except XunchaError as exc:
        return await _users_page(request, staff, status=exc.status, error=exc.message)
    return await _users_page(request, staff, invitation=invitation, granted=granted)


@endpoint(Rule.ADMINISTER)
async def user_action(request: Request, staff: Staff) -> Response:
    form = await request.form()
    username = request.path_params["username"]
    action = form_text(form, "action")
    try:
        async with runtime_of(request).db.transaction() as session:
            if action == "disable":
                await staff_admin.disable_user(session, username, actor_id=staff.user.id)
                notice = f"已停用 {username}：所有会话已注销，审计记录保留。"
            elif action == "reset-2fa":
                await staff_admin.reset_second_factor(session, username, actor_id=staff.user.id)
                notice = f"已重置 {username} 的双因素认证。"
            elif action == "email":
                email = form_text(form, "email")
                await staff_admin.set_email(session, username, email, actor_id=staff.user.id)
                notice = f"已更新 {username} 的通知邮箱。"
            elif action == "reinvite":
                invitation, granted = await _reinvite(session, username, staff)
                return await _users_page(
                    request, staff, invitation=invitation, granted=granted, reissued=True
                )
            elif action == "join":
                body = form_text(form, "body")
                granted = await staff_admin.add_member(
                    session, username, body, actor_id=staff.user.id
                )
                notice = (
                    f"已将 {username} 加入“{body}”（{'密钥已授权' if granted else '密钥待授权'}）。"
                )
            else:
                raise XunchaError("未知操作。", code="unknown_action", status=422)
    except XunchaError as exc:
        return await _users_page(request, staff, status=exc.status, error=exc.message)
    return await _users_page(request, staff, notice=notice)


async def _reinvite(
    session: AsyncSession, username: str, staff: Staff
) -> tuple[invitations.Invitation, bool]:
    """A new invitation for a user who never set a password (the old one expired or was lost).

    A user with a password is refused here: re-keying them would throw their key away, which is
    what escrow recovery is for (and the recovery code, before that).
    """
    user = await invitations.user_by_username(session, username)
    if invitations.invitation_state(user) is invitations.InvitationState.ACCEPTED:
        raise Conflict(
            f"{username} 已设置密码：忘记密码请用恢复码找回（登录页“忘记密码？”），"
            "恢复码也遗失时请用托管恢复。"
        )
    return await staff_admin.reissue_invitation(
        session, username, escrow=None, actor_id=staff.user.id
    )


# --- escrow recovery (托管恢复) -------------------------------------------------------------
# The escrow private key opens every body key. It reaches this page as an uploaded file, is
# parsed in memory (far below the size at which the form parser spools to disk), used inside
# one transaction and dropped: nothing stores or logs it; the audit records its key id only.

MAX_ESCROW_UPLOAD = 16 * 1024  # the armour is about 300 bytes


def _escrow_page(
    request: Request, staff: Staff, username: str, *, status: int = 200, **extra: Any
) -> Response:
    return render(request, staff, "recover_escrow.html", status=status, username=username, **extra)


async def _uploaded_escrow(upload: object) -> str:
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput("请选择托管私钥文件。", code="no_escrow_key")
    data = await upload.read(MAX_ESCROW_UPLOAD + 1)
    if len(data) > MAX_ESCROW_UPLOAD:
        raise InvalidInput("这不是托管私钥文件（文件过大）。", code="bad_escrow_key")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("托管私钥格式不正确（请核对校验码）。", code="bad_escrow_key") from None


@endpoint(Rule.RECOVER_WITH_ESCROW)
async def escrow_recovery_page(request: Request, staff: Staff) -> Response:
    username = request.path_params["username"]
    async with runtime_of(request).db.reading() as session:
        user = await invitations.user_by_username(session, username)
    return _escrow_page(request, staff, user.username)


@endpoint(Rule.RECOVER_WITH_ESCROW)
async def escrow_recovery_submit(request: Request, staff: Staff) -> Response:
    """What `xuncha user recover NAME --escrow-key FILE` does: a new keypair, every body key
    of the user's memberships re-granted through escrow, and a new one-time invitation."""
    username = request.path_params["username"]
    runtime = runtime_of(request)
    form = await request.form()
    try:
        if username == staff.user.username:
            raise Conflict("不能对自己的账号执行托管恢复。")
        armour = await _uploaded_escrow(form.get("escrow_key"))
        escrow = body_keys.read_escrow_key(armour, runtime.secrets)
        async with runtime.db.transaction() as session:
            invitation, granted = await staff_admin.reissue_invitation(
                session, username, escrow=escrow, actor_id=staff.user.id
            )
    except XunchaError as exc:
        return _escrow_page(request, staff, username, status=exc.status, error=exc.message)
    finally:
        await form.close()
    return _escrow_page(request, staff, username, invitation=invitation, granted=granted)


@endpoint(Rule.ADMINISTER)
async def body_submit(request: Request, staff: Staff) -> Response:
    form = await request.form()
    runtime = runtime_of(request)
    try:
        try:
            kind = BodyKind(form_text(form, "kind"))
        except ValueError:
            raise XunchaError("未知机构类型。", code="bad_body_kind", status=422) from None
        async with runtime.db.transaction() as session:
            body = await staff_admin.create_body(
                session,
                form_text(form, "name"),
                kind,
                escrow=runtime.secrets.escrow_public_key,
                unit_name=form_text(form, "unit") or None,
                actor_id=staff.user.id,
            )
    except XunchaError as exc:
        return await _users_page(request, staff, status=exc.status, error=exc.message)
    return await _users_page(
        request, staff, notice=f"已创建机构“{body.name}”（密钥已生成并托管）。"
    )


@endpoint(Rule.ADMINISTER)
async def grant_submit(request: Request, staff: Staff) -> Response:
    """A signed-in member completes the pending grants of one of their own bodies."""
    form = await request.form()
    body_name = form_text(form, "body")
    try:
        if body_name not in {b.name for b in staff.bodies}:
            raise XunchaError("只能为本人所在机构授权。", code="not_a_member", status=403)
        async with runtime_of(request).db.transaction() as session:
            body = await body_by_name(session, body_name)
            keys = await body_keys.body_keys_via_member(session, body, staff.user, staff.keypair())
            done = await body_keys.complete_pending_grants(
                session, body, keys, actor_id=staff.user.id
            )
    except XunchaError as exc:
        return await _users_page(request, staff, status=exc.status, error=exc.message)
    return await _users_page(
        request, staff, notice=f"已为“{body_name}”授权：{'、'.join(done) or '无'}。"
    )


async def _recusals_page(
    request: Request, staff: Staff, *, status: int = 200, **extra: Any
) -> Response:
    async with runtime_of(request).db.reading() as session:
        rows = (
            await session.execute(
                select(Recusal, User.username, Unit.name)
                .join(User, User.id == Recusal.user_id)
                .outerjoin(Unit, Unit.id == Recusal.unit_id)
                .order_by(User.username, Recusal.created_at)
            )
        ).all()
        usernames = list(await session.scalars(select(User.username).order_by(User.username)))
        units = list(await session.scalars(select(Unit.name).order_by(Unit.name)))
    return render(
        request,
        staff,
        "admin_recusals.html",
        status=status,
        rows=rows,
        usernames=usernames,
        units=units,
        **extra,
    )


@endpoint(Rule.ADMINISTER)
async def recusals_page(request: Request, staff: Staff) -> Response:
    return await _recusals_page(request, staff)


@endpoint(Rule.ADMINISTER)
async def recusal_submit(request: Request, staff: Staff) -> Response:
    form = await request.form()
    username = form_text(form, "username")
    runtime = runtime_of(request)
    try:
        async with runtime.db.transaction() as session:
            if person := form_text(form, "person"):
                await recusals.add_person_recusal(
                    session,
                    username,
                    person,
                    unit_name=form_text(form, "unit") or None,
                    index_key=runtime.secrets.index_key,
                    actor_id=staff.user.id,
                )
                notice = f"已添加回避：{username} 不再看到反映该人员的案件。"
            else:
                unit = form_text(form, "unit")
                await recusals.add_unit_recusal(session, username, unit, actor_id=staff.user.id)
                notice = f"已添加回避：{username} 不再看到“{unit}”的案件。"
    except XunchaError as exc:
        return await _recusals_page(request, staff, status=exc.status, error=exc.message)
    return await _recusals_page(request, staff, notice=notice)


@endpoint(Rule.ADMINISTER)
async def recusal_remove(request: Request, staff: Staff) -> Response:
    try:
        async with runtime_of(request).db.transaction() as session:
            await recusals.remove_recusal(
                session, request.path_params["recusal_id"], actor_id=staff.user.id
            )
    except XunchaError as exc:
        return await _recusals_page(request, staff, status=exc.status, error=exc.message)
    return await _recusals_page(request, staff, notice="已撤销该回避。")


routes: list[BaseRoute] = [
    Route("/admin/users", users_page, methods=["GET"]),
    Route("/admin/users", invite_submit, methods=["POST"]),
    Route("/admin/users/{username}", user_action, methods=["POST"]),
    Route("/admin/users/{username}/recover", escrow_recovery_page, methods=["GET"]),
    Route("/admin/users/{username}/recover", escrow_recovery_submit, methods=["POST"]),
    Route("/admin/grants", grant_submit, methods=["POST"]),
    Route("/admin/bodies", body_submit, methods=["POST"]),
    Route("/admin/recusals", recusals_page, methods=["GET"]),
    Route("/admin/recusals", recusal_submit, methods=["POST"]),
    Route("/admin/recusals/{recusal_id}/remove", recusal_remove, methods=["POST"]),
]
