"""Staff sessions: the __Host- cookie, logout, expiry, revocation, CSRF and key rotation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from admin.sessions import COOKIE_NAME, CookieCodec
from core.county import now
from core.models import Event, StaffSession, User
from core.runtime import Runtime
from tests.admin.conftest import BASE_URL, Login
from tests.conftest import BACKENDS, DEMO_PASSWORD

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]


async def test_login_sets_a_host_cookie_and_stores_no_secret(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    response = await client.post(
        "/api/v1/session", json={"username": "group1", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    for attribute in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert attribute.lower() in cookie.lower()
    assert "domain" not in cookie.lower()
    value = client.cookies[COOKIE_NAME]
    async with demo_runtime.db.reading() as session:
        row = await session.scalar(select(StaffSession))
        assert row is not None
        # The cookie's secret is not in the row, nor is the private key in clear.
        secret_part = value.split(":", 1)[1].split(".", 1)[0]
        assert secret_part.encode() not in row.secret_check
        assert row.private_key_sealed is not None
        assert len(row.private_key_sealed) > 96
        kinds = list(await session.scalars(select(Event.kind)))
    assert "staff.login" in kinds
    assert (await client.get("/api/v1/cases")).status_code == 200


async def test_anonymous_api_gets_401_and_pages_redirect(client: httpx.AsyncClient) -> None:
    api = await client.get("/api/v1/cases")
    assert api.status_code == 401
    assert api.json()["error"]["code"] == "not_signed_in"
    page = await client.get("/")
    assert page.status_code == 303
    assert page.headers["location"] == "/login"


async def test_logout_revokes_the_row_so_the_old_cookie_is_dead(
    login: Login, staff_app: Starlette
) -> None:
    http = await login("group1")
    stolen = http.cookies[COOKIE_NAME]
    assert (await http.delete("/api/v1/session")).status_code == 204
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=staff_app), base_url=BASE_URL
    ) as thief:
        thief.cookies.set(COOKIE_NAME, stolen)
        assert (await thief.get("/api/v1/cases")).status_code == 401


@pytest.mark.parametrize(
    ("field", "age"),
    [("last_seen_at", timedelta(minutes=31)), ("created_at", timedelta(hours=8, minutes=1))],
)
async def test_idle_and_absolute_timeouts(
    login: Login, demo_runtime: Runtime, field: str, age: timedelta
) -> None:
    http = await login("group1")
    assert (await http.get("/api/v1/cases")).status_code == 200
    async with demo_runtime.db.transaction() as session:
        row = await session.scalar(select(StaffSession))
        assert row is not None
        moment = getattr(row, field) - age
        values = {field: moment}
        if field == "created_at":  # keep it otherwise fresh: only the 8 h limit applies
            values["last_seen_at"] = row.last_seen_at
        await session.execute(update(StaffSession).values(**values))
    assert (await http.get("/api/v1/cases")).status_code == 401


async def test_tampered_or_foreign_cookie_is_refused(
    login: Login, demo_runtime: Runtime, staff_app: Starlette
) -> None:
    http = await login("group1")
    value = http.cookies[COOKIE_NAME]
    forged = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    http.cookies.set(COOKIE_NAME, forged)
    assert (await http.get("/api/v1/cases")).status_code == 401
    other = CookieCodec((b"k" * 32,))
    decoded = staff_app.state.cookies.decode(value)
    http.cookies.set(COOKIE_NAME, other.encode(decoded))
    assert (await http.get("/api/v1/cases")).status_code == 401


async def test_rotated_cookie_key_still_verifies_old_cookies(
    login: Login, demo_runtime: Runtime, staff_app: Starlette
) -> None:
    http = await login("group1")
    old_codec = staff_app.state.cookies
    token = old_codec.decode(http.cookies[COOKIE_NAME])
    rotated = replace(demo_runtime.secrets).with_new_cookie_key()
    staff_app.state.cookies = CookieCodec(rotated.cookie_keys)
    assert (await http.get("/api/v1/cases")).status_code == 200
    new_value = staff_app.state.cookies.encode(token)
    assert new_value != http.cookies[COOKIE_NAME]  # signed with the newest key now
    assert old_codec.decode(new_value) is None


async def test_html_form_without_csrf_token_is_rejected(login: Login) -> None:
    http = await login("group1")
    response = await http.post("/logout", data={"csrf": "wrong"})
    assert response.status_code == 403
    assert "表单已过期" in response.text
    # With the token the same form works.
    response = await http.post("/logout", data={"csrf": http.headers["x-csrf-token"]})
    assert response.status_code == 303
    assert (await http.get("/api/v1/cases")).status_code == 401


async def test_cross_site_origin_is_rejected_on_api_writes(login: Login) -> None:
    http = await login("group1")
    response = await http.delete("/api/v1/session", headers={"origin": "https://evil.example"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_rejected"
    response = await http.delete("/api/v1/session", headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 403


async def test_disabling_a_user_ends_their_live_sessions(
    login: Login, demo_runtime: Runtime
) -> None:
    http = await login("group4")
    assert (await http.get("/api/v1/cases")).status_code == 200
    async with demo_runtime.db.transaction() as session:
        await session.execute(
            update(User).where(User.username == "group4").values(disabled_at=now())
        )
    assert (await http.get("/api/v1/cases")).status_code == 401
    again = await http.post(
        "/api/v1/session", json={"username": "group4", "password": DEMO_PASSWORD}
    )
    assert again.status_code == 401
