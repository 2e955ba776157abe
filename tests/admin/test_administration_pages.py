"""Administration pages of the staff console (HTML, zh-CN)."""

from __future__ import annotations

import re

import httpx
import pytest

from core.runtime import Runtime
from tests.admin.administration_support import invite_member
from tests.admin.conftest import BASE_URL, Login
from tests.conftest import BACKENDS, DEMO_PASSWORD

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

PASSWORD = "qingshan-lushui-hekou-2026"


async def test_invitation_page_sets_the_password_and_shows_the_recovery_code(
    demo_runtime: Runtime, client: httpx.AsyncClient
) -> None:
    token = await invite_member(demo_runtime, "wangwei")
    page = await client.get("/invitation")
    assert page.status_code == 200
    assert "邀请码" in page.text
    form = {"code": token, "password": PASSWORD, "password_again": PASSWORD}
    accepted = await client.post("/invitation", data=form, headers={"origin": BASE_URL})
    assert accepted.status_code == 200
    assert re.search(r"[0-9A-Z]{5}(-[0-9A-Z]{5}){4}", accepted.text)
    assert token not in accepted.text
    login = await client.post("/api/v1/session", json={"username": "wangwei", "password": PASSWORD})
    assert login.status_code == 200, login.text
    again = await client.post("/invitation", data=form, headers={"origin": BASE_URL})
    assert again.status_code == 403
    assert "邀请码无效或已过期" in again.text


async def test_invitation_page_refuses_weak_and_mismatched_passwords(
    demo_runtime: Runtime, client: httpx.AsyncClient
) -> None:
    token = await invite_member(demo_runtime, "wangwei")
    for password, again in (("short", "short"), (PASSWORD, PASSWORD + "x")):
        form = {"code": token, "password": password, "password_again": again}
        response = await client.post("/invitation", data=form, headers={"origin": BASE_URL})
        assert response.status_code == 422
    cross_site = await client.post(
        "/invitation",
        data={"code": token, "password": PASSWORD, "password_again": PASSWORD},
        headers={"origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403


async def _form(http: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    data = {"csrf": http.headers["x-csrf-token"], **fields}
    return await http.post(path, data=data, headers={"origin": BASE_URL})


def _user_row(page: httpx.Response, username: str) -> str:
    row = re.search(rf"<tr><td>{username}</td>.*?</td></tr>", page.text, re.S)
    assert row is not None
    return row.group(0)


async def test_admin_pages_are_for_administrators_only(login: Login) -> None:
    member = await login("group1")
    for path in ("/admin/users", "/admin/units", "/admin/rounds", "/admin/recusals", "/admin/keys"):
        assert (await member.get(path)).status_code == 403
    assert (await _form(member, "/admin/ledger", format="csv")).status_code == 403
    admin = await login("xcb")
    page = await admin.get("/admin/users")
    assert page.status_code == 200
    assert "group1" in page.text
    assert 'href="/admin/users"' in (await admin.get("/")).text


async def test_invite_grant_and_disable_from_the_console(
    demo_runtime: Runtime, login: Login
) -> None:
    admin = await login("xcb")
    invited = await _form(
        admin,
        "/admin/users",
        username="liuyang",
        role="admin",
        body="县委巡察办",
        email="liuyang@xuncha.local",
    )
    assert invited.status_code == 200
    assert "待授权" in invited.text
    code = re.search(r'<p class="code">([^<]+)</p>', invited.text)
    assert code is not None
    assert len(code.group(1).strip()) >= 40
    # xcb is a member of 县委巡察办 and holds its key in the session: grant it.
    granted = await _form(admin, "/admin/grants", body="县委巡察办")
    assert "liuyang" in granted.text
    async with demo_runtime.db.reading() as session:
        from core.body_keys import pending_grants

        assert await pending_grants(session) == []
    refused = await _form(admin, "/admin/grants", body="第一巡察组")
    assert refused.status_code == 403
    disabled = await _form(admin, "/admin/users/group2", action="disable")
    assert disabled.status_code == 200
    assert "已停用 group2" in disabled.text
    login_again = await admin.post(
        "/api/v1/session", json={"username": "group2", "password": DEMO_PASSWORD}
    )
    assert login_again.status_code == 401


async def test_unit_upload_round_and_recusal_pages(demo_runtime: Runtime, login: Login) -> None:
    admin = await login("xcb")
    csrf = admin.headers["x-csrf-token"]
    bad = "名称,类型,别名\n县审计局,县政府部门,\n县统计局,县直,\n".encode()
    response = await admin.post(
        "/admin/units",
        data={"csrf": csrf},
        files={"sheet": ("units.csv", bad, "text/csv")},
        headers={"origin": BASE_URL},
    )
    assert response.status_code == 422
    assert "第 3 行" in response.text
    assert "县审计局" not in (await admin.get("/admin/units")).text
    good = "名称,类型,别名\n县审计局,县政府部门,审计局\n".encode()
    response = await admin.post(
        "/admin/units",
        data={"csrf": csrf},
        files={"sheet": ("units.csv", good, "text/csv")},
        headers={"origin": BASE_URL},
    )
    assert response.status_code == 200
    assert "新增 1 个" in response.text

    conflict = await _form(
        admin,
        "/admin/rounds",
        name="审计专项",
        kind="专项",
        start="2027-01-04",
        end="2027-02-26",
        assignments="第一巡察组=县审计局\n第二巡察组=审计局",
    )
    assert conflict.status_code == 409
    created = await _form(
        admin,
        "/admin/rounds",
        name="审计专项",
        kind="专项",
        start="2027-01-04",
        end="2027-02-26",
        assignments="第一巡察组=县审计局",
    )
    assert created.status_code == 200
    assert "审计专项" in created.text

    recused = await _form(admin, "/admin/recusals", username="group1", unit="县审计局")
    assert recused.status_code == 200
    assert "单位：县审计局" in recused.text
    remove = re.search(r'action="(/admin/recusals/[^"]+/remove)"', recused.text)
    assert remove is not None
    removed = await _form(admin, remove.group(1))
    assert "已撤销该回避" in removed.text
    assert "单位：县审计局" not in removed.text


async def test_keys_page_rotation_and_ledger_download(demo_runtime: Runtime, login: Login) -> None:
    from tests.admin.administration_support import submit

    await submit(demo_runtime)
    admin = await login("xcb")
    page = await admin.get("/admin/keys")
    assert page.status_code == 200
    from core.body_keys import key_file_fingerprint

    assert key_file_fingerprint(demo_runtime.secrets) in page.text
    rotated = await _form(admin, "/admin/keys/rotate", body="第一巡察组")
    assert "已为“第一巡察组”生成新密钥" in rotated.text
    ledger = await _form(admin, "/admin/ledger", format="csv")
    assert ledger.status_code == 200
    assert "attachment" in ledger.headers["content-disposition"]
    text = ledger.content.decode("utf-8-sig")
    assert "县教育局" in text
    assert "王某某" not in text
    assert "红包" not in text


async def test_bodies_memberships_and_email_from_the_console(
    demo_runtime: Runtime, login: Login
) -> None:
    admin = await login("xcb")
    created = await _form(admin, "/admin/bodies", name="县审计局党组", kind="relevant_department")
    assert "已创建机构“县审计局党组”" in created.text
    duplicate = await _form(admin, "/admin/bodies", name="县审计局党组", kind="relevant_department")
    assert duplicate.status_code == 409
    joined = await _form(admin, "/admin/users/jw", action="join", body="县审计局党组")
    assert "密钥待授权" in joined.text
    changed = await _form(admin, "/admin/users/jw", action="email", email="jw@jw.example")
    assert "已更新 jw 的通知邮箱" in changed.text
    bad = await _form(admin, "/admin/users/jw", action="email", email="not-an-address")
    assert bad.status_code == 422
    from tests.admin.administration_support import events, user_named

    assert (await user_named(demo_runtime, "jw")).email == "jw@jw.example"
    kinds = [e.kind for e in await events(demo_runtime, "user.membership_added")]
    assert kinds == ["user.membership_added"]


async def test_a_recusal_added_in_the_console_hides_the_case_from_a_signed_in_member(
    demo_runtime: Runtime, login: Login
) -> None:
    from tests.admin.administration_support import events, submit, user_named

    case_id = await submit(demo_runtime)  # 县教育局 -> 第一巡察组
    member = await login("group1")
    assert (await member.get(f"/api/v1/cases/{case_id}")).status_code == 200
    admin = await login("xcb")
    added = await _form(admin, "/admin/recusals", username="group1", unit="县教育局")
    assert added.status_code == 200
    # The same session, no new login: the next request already leaves the case out.
    assert (await member.get(f"/api/v1/cases/{case_id}")).status_code == 404
    listed = (await member.get("/api/v1/cases")).json()["cases"]
    assert case_id not in {c["id"] for c in listed}
    (event,) = await events(demo_runtime, "recusal.added")
    assert event.actor_id == (await user_named(demo_runtime, "xcb")).id


async def test_second_factor_reset_from_the_console_ends_the_users_sessions(
    demo_runtime: Runtime, login: Login
) -> None:
    from sqlalchemy import update

    from admin.auth import seal_totp_secret
    from core.models import User
    from crypto import new_totp_secret
    from tests.admin.administration_support import events, user_named

    jw = await login("jw")  # signed in, then enrols an authenticator
    jw_id = (await user_named(demo_runtime, "jw")).id
    async with demo_runtime.db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.id == jw_id)
            .values(totp_secret=seal_totp_secret(demo_runtime, jw_id, new_totp_secret()))
        )
    assert (await jw.get("/api/v1/cases")).status_code == 200
    admin = await login("xcb")
    assert "<td>正常 · 已绑定两步验证</td>" in _user_row(await admin.get("/admin/users"), "jw")
    reset = await _form(admin, "/admin/users/jw", action="reset-2fa")
    assert reset.status_code == 200
    assert "已重置 jw 的双因素认证" in reset.text
    assert "<td>正常</td>" in _user_row(reset, "jw")
    assert (await user_named(demo_runtime, "jw")).totp_secret is None
    assert (await jw.get("/api/v1/cases")).status_code == 401
    (event,) = await events(demo_runtime, "user.totp_reset")
    assert event.actor_id == (await user_named(demo_runtime, "xcb")).id
    assert event.detail == {"user": "jw"}


async def test_changing_a_started_rounds_groups_in_the_console_is_audited(
    demo_runtime: Runtime, login: Login
) -> None:
    from tests.admin.administration_support import events, user_named

    admin = await login("xcb")
    table = "\n".join(
        (
            "第一巡察组=县教育局,县财政局",
            "第二巡察组=县自然资源局",
            "第三巡察组=青山镇",
            "第四巡察组=县城市建设投资有限公司",
            "第五巡察组=县人民医院",
        )
    )
    changed = await _form(admin, "/admin/rounds", round="十五届县委第三轮巡察", assignments=table)
    assert changed.status_code == 200
    assert "已更新“十五届县委第三轮巡察”的分组" in changed.text
    refused = await _form(
        admin,
        "/admin/rounds",
        round="十五届县委第三轮巡察",
        assignments="第一巡察组=县财政局\n第二巡察组=县财政局",
    )
    assert refused.status_code == 409
    (event,) = await events(demo_runtime, "round.reassigned_after_start")
    assert event.actor_id == (await user_named(demo_runtime, "xcb")).id
    assert event.detail["before"]["第一巡察组"] == ["县教育局"]
    assert event.detail["after"]["第一巡察组"] == ["县教育局", "县财政局"]
