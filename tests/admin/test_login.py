"""Login: one failure message, throttling, TOTP enrolment and replay, keys at first login,
password policy and password change."""

from __future__ import annotations

import base64
import re
import time

import httpx
import pytest
from sqlalchemy import func, select, update

from core.county import Role, now
from core.models import Event, User, new_id
from core.runtime import Runtime
from core.users import create_user
from crypto import KeyPair, hash_password, totp_code, unwrap_user_key_with_recovery_code
from crypto.user_keys import PEPPERED_PASSWORD_WRAP_FORMAT
from tests.admin.case_support import submit
from tests.admin.conftest import Login
from tests.conftest import BACKENDS, DEMO_PASSWORD, WEAK_KDF

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

NEW_PASSWORD = "shanhu-qiche-yinhe-doufu-42"


async def _api_login(
    http: httpx.AsyncClient, username: str, password: str, totp: str | None = None
) -> httpx.Response:
    body = {"username": username, "password": password}
    if totp is not None:
        body["totp"] = totp
    return await http.post("/api/v1/session", json=body)


async def _real_user(runtime: Runtime, username: str = "inspector6") -> User:
    async with runtime.db.transaction() as session:
        user, _ = await create_user(
            session,
            username,
            Role.MEMBER,
            email=None,
            password=NEW_PASSWORD,
            password_params=WEAK_KDF,
        )
    return user


async def test_every_wrong_input_gets_the_same_answer(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    wrong_password = await _api_login(client, "group1", "not-the-password")
    unknown_user = await _api_login(client, "no-such-user", DEMO_PASSWORD)
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json()["error"]["code"] == "login_failed"
    async with demo_runtime.db.reading() as session:
        failed = await session.scalar(
            select(func.count()).select_from(Event).where(Event.kind == "staff.login_failed")
        )
    assert failed == 1  # only the real account has a row to record it against


async def test_five_failures_lock_the_account_then_delays_grow(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    for _ in range(5):
        assert (await _api_login(client, "group2", "wrong")).status_code == 401
    locked = await _api_login(client, "group2", DEMO_PASSWORD)  # even the right password waits
    assert locked.status_code == 429
    assert 50 <= int(locked.headers["retry-after"]) <= 61
    # After the first wait, one more failure doubles it.
    async with demo_runtime.db.transaction() as session:
        await session.execute(
            update(User).where(User.username == "group2").values(locked_until=now())
        )
    assert (await _api_login(client, "group2", "wrong")).status_code == 401
    again = await _api_login(client, "group2", DEMO_PASSWORD)
    assert 110 <= int(again.headers["retry-after"]) <= 121
    # Unknown names are throttled alike, so a lock-out does not reveal which names exist.
    for _ in range(5):
        assert (await _api_login(client, "ghost", "wrong")).status_code == 401
    assert (await _api_login(client, "ghost", "wrong")).status_code == 429


async def test_success_resets_the_counter_and_upgrades_the_hash(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    for _ in range(3):
        await _api_login(client, "group3", "wrong")
    assert (await _api_login(client, "group3", DEMO_PASSWORD)).status_code == 200
    async with demo_runtime.db.reading() as session:
        user = await session.scalar(select(User).where(User.username == "group3"))
    assert user is not None
    assert user.failed_logins == 0
    # The demo user was created without the pepper; the first login re-wrapped with it.
    assert user.private_key_by_password is not None
    assert user.private_key_by_password[0] == PEPPERED_PASSWORD_WRAP_FORMAT
    assert (await _api_login(client, "group3", DEMO_PASSWORD)).status_code == 200


async def test_real_user_must_enrol_totp_and_codes_cannot_be_replayed(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    await _real_user(demo_runtime)
    first = await _api_login(client, "inspector6", NEW_PASSWORD)
    assert first.status_code == 200
    assert first.json()["totp_enrolled"] is False
    assert (await client.get("/api/v1/cases")).status_code == 403
    gate = await client.get("/")
    assert gate.status_code == 303
    assert gate.headers["location"] == "/account/totp"

    page = await client.get("/account/totp")
    assert page.status_code == 200
    assert 'src="data:image/svg+xml' in page.text  # the QR code, rendered here as SVG
    pending = re.search(r'name="pending" value="([^"]+)"', page.text)
    secret_text = re.search(r"<code>([A-Z2-7]+)</code>", page.text)
    assert pending is not None
    assert secret_text is not None
    text = secret_text.group(1)
    secret = base64.b32decode(text + "=" * (-len(text) % 8))
    csrf = first.json()["csrf_token"]
    wrong = await client.post(
        "/account/totp", data={"csrf": csrf, "pending": pending.group(1), "code": "000000"}
    )
    assert wrong.status_code == 422
    now_code = totp_code(secret, time.time())
    enrolled = await client.post(
        "/account/totp", data={"csrf": csrf, "pending": pending.group(1), "code": now_code}
    )
    assert enrolled.status_code == 303
    assert (await client.get("/api/v1/cases")).status_code == 200

    client.cookies.clear()
    no_code = await _api_login(client, "inspector6", NEW_PASSWORD)
    assert no_code.status_code == 401
    replayed = await _api_login(client, "inspector6", NEW_PASSWORD, now_code)
    assert replayed.status_code == 401
    assert replayed.json() == no_code.json()
    next_code = totp_code(secret, time.time() + 30)
    accepted = await _api_login(client, "inspector6", NEW_PASSWORD, next_code)
    assert accepted.status_code == 200
    assert accepted.json()["totp_enrolled"] is True
    again = await _api_login(client, "inspector6", NEW_PASSWORD, next_code)
    assert again.status_code == 401  # the same code twice: refused as a replay
    async with demo_runtime.db.reading() as session:
        user = await session.scalar(select(User).where(User.username == "inspector6"))
    assert user is not None
    assert user.totp_secret is not None
    assert secret not in user.totp_secret  # sealed under the pepper, not stored in clear


async def test_first_login_generates_keys_and_shows_the_recovery_code_once(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    user_id = new_id()
    async with demo_runtime.db.transaction() as session:
        session.add(
            User(
                id=user_id,
                username="newcomer",
                role=Role.MEMBER.value,
                password_hash=hash_password(NEW_PASSWORD, WEAK_KDF),
                failed_logins=0,
                created_at=now(),
            )
        )
    first = await _api_login(client, "newcomer", NEW_PASSWORD)
    assert first.status_code == 200
    code = first.json()["recovery_code"]
    async with demo_runtime.db.reading() as session:
        user = await session.get(User, user_id)
    assert user is not None
    assert user.public_key is not None
    assert user.private_key_by_recovery is not None
    recovered = unwrap_user_key_with_recovery_code(user.private_key_by_recovery, user_id, code)
    assert isinstance(recovered, KeyPair)
    assert recovered.public.raw == user.public_key
    client.cookies.clear()
    second = await _api_login(client, "newcomer", NEW_PASSWORD)
    assert "recovery_code" not in second.json()


async def test_first_login_page_shows_the_recovery_code(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    async with demo_runtime.db.transaction() as session:
        session.add(
            User(
                username="newcomer2",
                role=Role.MEMBER.value,
                password_hash=hash_password(NEW_PASSWORD, WEAK_KDF),
                failed_logins=0,
                created_at=now(),
            )
        )
    page = await client.post("/login", data={"username": "newcomer2", "password": NEW_PASSWORD})
    assert page.status_code == 200
    assert "只显示这一次" in page.text
    assert re.search(r"[0-9A-Z]{5}(-[0-9A-Z]{5}){4}", page.text)


async def test_password_change_revokes_every_session_and_keeps_the_keys(
    login: Login, demo_runtime: Runtime
) -> None:
    case_id, _ = await submit(demo_runtime)
    laptop, phone = await login("group1"), await login("group1")
    csrf = laptop.headers["x-csrf-token"]
    weak = await laptop.post(
        "/account/password",
        data={
            "csrf": csrf,
            "current": DEMO_PASSWORD,
            "new": "123456789012",
            "confirm": "123456789012",
        },
    )
    assert weak.status_code == 422
    assert "常见密码" in weak.text
    changed = await laptop.post(
        "/account/password",
        data={"csrf": csrf, "current": DEMO_PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert changed.status_code == 303
    assert (await laptop.get("/api/v1/cases")).status_code == 401
    assert (await phone.get("/api/v1/cases")).status_code == 401
    phone.cookies.clear()
    assert (await _api_login(phone, "group1", DEMO_PASSWORD)).status_code == 401
    assert (await _api_login(phone, "group1", NEW_PASSWORD)).status_code == 200
    opened = await phone.get(f"/api/v1/cases/{case_id}")
    assert opened.status_code == 200  # the private key was re-wrapped, not lost
