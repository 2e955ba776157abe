"""Administration pages of the staff console (HTML, zh-CN)."""

from __future__ import annotations

import re

import httpx
import pytest

from core.county import Role
from core.runtime import Runtime
from core.staff_admin import invite_user
from tests.admin.conftest import BASE_URL
from tests.conftest import BACKENDS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

PASSWORD = "qingshan-lushui-hekou-2026"


async def _invite(runtime: Runtime, username: str = "wangwei") -> str:
    async with runtime.db.transaction() as session:
        invitation, _ = await invite_user(
            session,
            username,
            Role.MEMBER,
            email=f"{username}@xuncha.local",
            body_name="第一巡察组",
            actor_id=None,
        )
    return invitation.token


async def test_invitation_page_sets_the_password_and_shows_the_recovery_code(
    demo_runtime: Runtime, client: httpx.AsyncClient
) -> None:
    token = await _invite(demo_runtime)
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
    token = await _invite(demo_runtime)
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
