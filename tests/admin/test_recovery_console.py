"""Password recovery in the staff console: the recovery code at /recover (public), and escrow
recovery by an administrator at /admin/users/{username}/recover."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from admin.app import create_app
from admin.policy import Actor, Rule, allows
from core.county import BodyKind, Role
from core.models import Event
from core.settings import Settings
from core.staff_admin import disable_user
from crypto import DecryptionFailed, armour_escrow_key, totp_code
from tests.admin.administration_support import (
    EscrowedCounty,
    enrolled_member,
    escrowed_demo,
    events,
    read_case_text,
    submit,
    user_key,
    user_named,
)
from tests.admin.conftest import BASE_URL
from tests.conftest import BACKENDS, DEMO_PASSWORD

ON_BOTH_BACKENDS = pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
pytestmark = pytest.mark.anyio

FIRST_PASSWORD = "qingshan-lushui-hekou-2026"
NEW_PASSWORD = "dongfeng-cun-shitang-8817"
RECOVERY_CODE = re.compile(r"[0-9A-Z]{5}(?:-[0-9A-Z]{5}){4}")
SAME_ORIGIN = {"origin": BASE_URL}


@pytest.fixture
async def county(settings: Settings) -> AsyncIterator[EscrowedCounty]:
    async with escrowed_demo(settings) as county:
        yield county


@pytest.fixture
async def staff_app(county: EscrowedCounty) -> AsyncIterator[Starlette]:
    app = create_app(county.runtime.settings, county.runtime)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def browser(staff_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=staff_app), base_url=BASE_URL
    ) as http:
        yield http


@asynccontextmanager
async def _signed_in(
    staff_app: Starlette, username: str, password: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=staff_app), base_url=BASE_URL
    ) as http:
        response = await http.post(
            "/api/v1/session", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        http.headers["x-csrf-token"] = response.json()["csrf_token"]
        yield http


async def _enrolled_member(county: EscrowedCounty, username: str = "sunli") -> tuple[str, bytes]:
    return await enrolled_member(county, username, FIRST_PASSWORD)


async def _recover(
    http: httpx.AsyncClient, username: str, code: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    """What a browser does: open the form (cookie + token), then post it."""
    page = await http.get("/recover")
    assert page.status_code == 200
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    form = {
        "csrf": token.group(1),
        "username": username,
        "code": code,
        "password": password,
        "password_again": password,
    }
    return await http.post("/recover", data=form, headers=SAME_ORIGIN)


def _alert(response: httpx.Response) -> str:
    found = re.search(r'<p class="error" role="alert">([^<]*)</p>', response.text)
    assert found is not None, response.text
    return found.group(1)


async def _login(
    http: httpx.AsyncClient, username: str, password: str, totp: str | None = None
) -> httpx.Response:
    body = {"username": username, "password": password}
    if totp is not None:
        body["totp"] = totp
    return await http.post("/api/v1/session", json=body)


# --- /recover: the recovery code -------------------------------------------------------------


@ON_BOTH_BACKENDS
async def test_the_login_page_links_to_recovery(browser: httpx.AsyncClient) -> None:
    login = await browser.get("/login")
    assert 'href="/recover">忘记密码？' in login.text
    page = await browser.get("/recover")
    assert "恢复码" in page.text
    assert "__Host-xuncha-recover" in page.headers["set-cookie"]


@ON_BOTH_BACKENDS
async def test_recovery_code_sets_a_new_password_keeps_the_key_and_the_second_factor(
    county: EscrowedCounty, staff_app: Starlette, browser: httpx.AsyncClient
) -> None:
    runtime = county.runtime
    case_id = await submit(runtime)  # 县教育局 -> 第一巡察组
    old_code, secret = await _enrolled_member(county)
    key_before = await user_key(runtime, "sunli", FIRST_PASSWORD, pepper=True)
    session_before = await _login(browser, "sunli", FIRST_PASSWORD, totp_code(secret, time.time()))
    assert session_before.status_code == 200
    browser.cookies.clear()

    recovered = await _recover(browser, "sunli", old_code.lower().replace("-", " "))
    assert recovered.status_code == 200, recovered.text
    shown = RECOVERY_CODE.findall(recovered.text)
    assert len(shown) == 1
    assert shown[0] != old_code
    assert "请用新密码重新登录" in recovered.text

    # The same keypair under the new password: the cases the user read before still open.
    key_after = await user_key(runtime, "sunli", NEW_PASSWORD, pepper=True)
    assert key_after.key_id == key_before.key_id
    assert await read_case_text(runtime, "sunli", key_after, case_id) == (
        "县教育局基建股股长王某某收受工程老板红包两万元，帮其拿到学校食堂改造工程。"
    )
    # Signing in again needs the new password and still the authenticator.
    assert (
        await _login(browser, "sunli", FIRST_PASSWORD, totp_code(secret, time.time() + 30))
    ).status_code == 401
    assert (await _login(browser, "sunli", NEW_PASSWORD)).status_code == 401
    fresh = await _login(browser, "sunli", NEW_PASSWORD, totp_code(secret, time.time() + 30))
    assert fresh.status_code == 200
    assert (await browser.get(f"/api/v1/cases/{case_id}")).json()["text"].startswith("县教育局")
    # The old code is spent, the new one works.
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=staff_app), base_url=BASE_URL)
    async with other:
        spent = await _recover(other, "sunli", old_code, "another-long-passphrase-77")
        assert spent.status_code == 403
        again = await _recover(other, "sunli", shown[0], "another-long-passphrase-77")
        assert again.status_code == 200
    # Audited, with neither code in the trail.
    recovered_events = await events(runtime, "user.recovered")
    assert len(recovered_events) == 2
    async with runtime.db.reading() as session:
        trail = " ".join(str(e.detail) for e in await session.scalars(select(Event)))
    for code in (old_code, shown[0]):
        assert code not in trail
        assert code.replace("-", "") not in trail


@ON_BOTH_BACKENDS
async def test_recovery_ends_every_session_of_the_user(
    county: EscrowedCounty, staff_app: Starlette, browser: httpx.AsyncClient
) -> None:
    old_code, secret = await _enrolled_member(county)
    signed_in = httpx.AsyncClient(transport=httpx.ASGITransport(app=staff_app), base_url=BASE_URL)
    async with signed_in:
        login = await _login(signed_in, "sunli", FIRST_PASSWORD, totp_code(secret, time.time()))
        assert login.status_code == 200
        assert (await signed_in.get("/api/v1/cases")).status_code == 200
        assert (await _recover(browser, "sunli", old_code)).status_code == 200
        assert (await signed_in.get("/api/v1/cases")).status_code == 401


@ON_BOTH_BACKENDS
async def test_wrong_code_unknown_and_disabled_users_get_one_answer(
    county: EscrowedCounty, browser: httpx.AsyncClient
) -> None:
    runtime = county.runtime
    await _enrolled_member(county, "sunli")
    disabled_code, _ = await _enrolled_member(county, "zhouqi")
    async with runtime.db.transaction() as session:
        await disable_user(session, "zhouqi", actor_id=None)
    wrong = await _recover(browser, "sunli", "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE")
    malformed = await _recover(browser, "sunli", "not a code")
    unknown = await _recover(browser, "no-such-user", "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE")
    disabled = await _recover(browser, "zhouqi", disabled_code)  # the right code, disabled user
    answers = {(r.status_code, _alert(r)) for r in (wrong, malformed, unknown, disabled)}
    assert answers == {(403, "用户名或恢复码不正确。")}
    assert (await user_named(runtime, "zhouqi")).disabled_at is not None
    with pytest.raises(DecryptionFailed):  # the right code did not set the new password
        await user_key(runtime, "zhouqi", NEW_PASSWORD, pepper=True)
    failed = await events(runtime, "user.recovery_failed")
    assert [e.detail for e in failed] == [{"failures": 1}, {"failures": 2}]


@ON_BOTH_BACKENDS
async def test_failed_recoveries_count_toward_the_login_throttle(
    county: EscrowedCounty, browser: httpx.AsyncClient
) -> None:
    right_code, secret = await _enrolled_member(county)
    for _ in range(5):
        assert (
            await _recover(browser, "sunli", "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE")
        ).status_code == 403
    locked = await _recover(browser, "sunli", right_code)  # even the right code waits
    assert locked.status_code == 429
    assert 50 <= int(locked.headers["retry-after"]) <= 61
    # One budget for both doors: the password waits too.
    login = await _login(browser, "sunli", FIRST_PASSWORD, totp_code(secret, time.time()))
    assert login.status_code == 429
    # Unknown names are throttled alike, so a lock-out does not reveal which names exist.
    for _ in range(5):
        assert (
            await _recover(browser, "ghost", "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE")
        ).status_code == 403
    assert (await _recover(browser, "ghost", "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE")).status_code == 429
    assert (await _login(browser, "ghost", "whatever")).status_code == 429
    # And the lock held: the right code changed nothing.
    await user_key(county.runtime, "sunli", FIRST_PASSWORD, pepper=True)


@ON_BOTH_BACKENDS
async def test_the_recovery_form_needs_its_csrf_token(
    county: EscrowedCounty, staff_app: Starlette, browser: httpx.AsyncClient
) -> None:
    code, _ = await _enrolled_member(county)
    form = {"username": "sunli", "code": code, "password": NEW_PASSWORD}
    form["password_again"] = NEW_PASSWORD
    no_token = await browser.post("/recover", data=form, headers=SAME_ORIGIN)
    assert no_token.status_code == 403
    page = await browser.get("/recover")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    # The token without its cookie (another browser, as a cross-site form would be) fails.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=staff_app), base_url=BASE_URL
    ) as other:
        stolen = await other.post(
            "/recover", data={**form, "csrf": token.group(1)}, headers=SAME_ORIGIN
        )
        assert stolen.status_code == 403
    cross_site = await browser.post(
        "/recover",
        data={**form, "csrf": token.group(1)},
        headers={"origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    # None of it used the code up.
    await user_key(county.runtime, "sunli", FIRST_PASSWORD, pepper=True)
    assert (await _recover(browser, "sunli", code)).status_code == 200


@ON_BOTH_BACKENDS
async def test_a_weak_new_password_is_refused_before_the_code_is_tried(
    county: EscrowedCounty, browser: httpx.AsyncClient
) -> None:
    code, _ = await _enrolled_member(county)
    weak = await _recover(browser, "sunli", code, "short")
    assert weak.status_code == 422
    assert await events(county.runtime, "user.recovery_failed") == []
    assert (await _recover(browser, "sunli", code)).status_code == 200


# --- escrow recovery by an administrator ------------------------------------------------------


def _escrow_upload(armour: str) -> dict[str, tuple[str, bytes, str]]:
    return {"escrow_key": ("escrow-private-key.txt", armour.encode(), "text/plain")}


@ON_BOTH_BACKENDS
async def test_administrator_re_keys_a_user_through_the_uploaded_escrow_key(
    county: EscrowedCounty, staff_app: Starlette, browser: httpx.AsyncClient
) -> None:
    runtime = county.runtime
    case_id = await submit(runtime)  # 第一巡察组 reads it
    armour = armour_escrow_key(county.escrow)
    async with _signed_in(staff_app, "xcb", DEMO_PASSWORD) as xcb:
        users = await xcb.get("/admin/users")
        assert 'href="/admin/users/group1/recover">托管恢复' in users.text
        page = await xcb.get("/admin/users/group1/recover")
        assert page.status_code == 200
        assert 'enctype="multipart/form-data"' in page.text
        csrf = {"csrf": xcb.headers["x-csrf-token"]}
        wrong = await xcb.post(
            "/admin/users/group1/recover",
            data=csrf,
            files=_escrow_upload(armour.replace("Checksum: ", "Checksum: 0")),
            headers=SAME_ORIGIN,
        )
        assert wrong.status_code == 422
        assert (await _login(browser, "group1", DEMO_PASSWORD)).status_code == 200  # unchanged
        done = await xcb.post(
            "/admin/users/group1/recover",
            data=csrf,
            files=_escrow_upload(armour),
            headers=SAME_ORIGIN,
        )
    assert done.status_code == 200, done.text
    token = re.search(r'<p class="code">([^<]+)</p>', done.text)
    assert token is not None
    browser.cookies.clear()
    assert (await _login(browser, "group1", DEMO_PASSWORD)).status_code == 401  # old key gone
    # group1 accepts the new invitation in the console and reads the old case again.
    form = {"code": token.group(1), "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    accepted = await browser.post("/invitation", data=form, headers=SAME_ORIGIN)
    assert accepted.status_code == 200
    keys = await user_key(runtime, "group1", NEW_PASSWORD, pepper=True)
    assert await read_case_text(runtime, "group1", keys, case_id)
    assert (await _login(browser, "group1", NEW_PASSWORD)).status_code == 200
    assert (await browser.get(f"/api/v1/cases/{case_id}")).status_code == 200
    # Audited with the administrator's name and the escrow key's id, never the key itself.
    xcb_user = await user_named(runtime, "xcb")
    (reissued,) = await events(runtime, "user.invitation_reissued")
    assert reissued.actor_id == xcb_user.id
    assert reissued.detail["granted"] is True
    (used,) = await events(runtime, "keys.escrow_used")
    assert used.detail == {"key_id": county.escrow.key_id, "purpose": "recovery", "user": "group1"}
    body_line = armour.splitlines()[4]
    async with runtime.db.reading() as session:
        trail = " ".join(str(e.detail) for e in await session.scalars(select(Event)))
    assert body_line not in trail


@ON_BOTH_BACKENDS
async def test_escrow_recovery_refuses_non_administrators_and_oneself(
    county: EscrowedCounty, staff_app: Starlette
) -> None:
    armour = armour_escrow_key(county.escrow)
    for username in ("group2", "leader", "jw"):
        async with _signed_in(staff_app, username, DEMO_PASSWORD) as http:
            assert (await http.get("/admin/users/group1/recover")).status_code == 403
            refused = await http.post(
                "/admin/users/group1/recover",
                data={"csrf": http.headers["x-csrf-token"]},
                files=_escrow_upload(armour),
                headers=SAME_ORIGIN,
            )
            assert refused.status_code == 403
    async with _signed_in(staff_app, "xcb", DEMO_PASSWORD) as xcb:
        no_token = await xcb.post(
            "/admin/users/group1/recover", files=_escrow_upload(armour), headers=SAME_ORIGIN
        )
        assert no_token.status_code == 403  # CSRF
        own = await xcb.post(
            "/admin/users/xcb/recover",
            data={"csrf": xcb.headers["x-csrf-token"]},
            files=_escrow_upload(armour),
            headers=SAME_ORIGIN,
        )
        assert own.status_code == 409
    assert (await user_named(county.runtime, "group1")).password_hash is not None
    assert await events(county.runtime, "keys.escrow_used") == []


def test_only_administrators_may_bring_the_escrow_key() -> None:
    office_member = Actor("u1", Role.MEMBER, frozenset({"b"}), frozenset({BodyKind.OFFICE}))
    admin = Actor("u2", Role.ADMIN, frozenset({"b"}), frozenset({BodyKind.OFFICE}))
    assert allows(office_member, Rule.ADMINISTER)
    assert not allows(office_member, Rule.RECOVER_WITH_ESCROW)
    assert allows(admin, Rule.RECOVER_WITH_ESCROW)
    assert not allows(None, Rule.RECOVER_WITH_ESCROW)
