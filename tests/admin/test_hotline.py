"""Hotline and letter entry: the operator enters, the receipt shows once, then reads nothing."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from core.models import Case, Event, User
from core.runtime import Runtime
from intake.pipeline import IntakePipeline
from tests.admin.conftest import Login
from tests.conftest import BACKENDS
from tests.intake.sealed_case_reader import open_all_cases

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

CALL = "来电反映：县人民医院副院长赵某某收受医药代表回扣，每月约三万元。"
LETTER = "来信反映：东风村村委会主任孙某某侵占集体土地补偿款。"


async def case_count(runtime: Runtime) -> int:
    async with runtime.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(Case)) or 0


def scanned_page() -> bytes:
    """A scan as a phone app makes it: the device model in EXIF."""
    image = Image.new("RGB", (40, 56), (250, 250, 245))
    exif = image.getexif()
    exif[0x0110] = "ScannerCanary"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


async def test_operator_enters_a_call_and_cannot_read_it_afterwards(
    login: Login, demo_runtime: Runtime
) -> None:
    operator = await login("hotline")
    response = await operator.post(
        "/api/v1/hotline/reports",
        json={
            "channel": "phone",
            "text": CALL,
            "accused": {"name": "赵某某", "unit": "县人民医院", "position": "副院长"},
            "category_hint": "integrity",
        },
    )
    assert response.status_code == 201, response.text
    receipt = response.json()["receipt"]
    assert len(receipt) == 20
    [opened] = await open_all_cases(demo_runtime)
    assert opened.case.channel == "phone"
    assert opened.text == CALL
    assert opened.accused.name == "赵某某"
    # 县人民医院 is inspected by 第五巡察组 in the demo round.
    assert opened.case.problem_type == "violation_lead"
    # The operator can neither list nor open it, by the API or the console.
    assert (await operator.get("/api/v1/cases")).status_code == 403
    assert (await operator.get(f"/api/v1/cases/{opened.case.id}")).status_code in (403, 404)
    assert (await operator.get(f"/cases/{opened.case.id}")).status_code in (403, 404)
    # The receipt works for the caller.
    view = await IntakePipeline(demo_runtime).reporter_view(receipt)
    assert view.status.value == "received"
    # The audit log names the operator (not the caller) and carries no content.
    async with demo_runtime.db.reading() as session:
        operator_id = await session.scalar(select(User.id).where(User.username == "hotline"))
        event = await session.scalar(select(Event).where(Event.kind == "hotline.report_entered"))
    assert event is not None
    assert event.actor_id == operator_id
    assert event.case_id == opened.case.id
    assert "赵某某" not in str(event.detail)
    assert receipt not in str(event.detail)


async def test_a_letter_with_scanned_pages_over_multipart(
    login: Login, demo_runtime: Runtime
) -> None:
    operator = await login("hotline")
    response = await operator.post(
        "/api/v1/hotline/reports",
        data={"channel": "mail", "text": LETTER, "accused_unit": "东风村"},
        files=[
            ("attachments", ("第1页.jpg", scanned_page(), "image/jpeg")),
            ("attachments", ("第2页.jpg", scanned_page(), "image/jpeg")),
        ],
    )
    assert response.status_code == 201, response.text
    [opened] = await open_all_cases(demo_runtime)
    assert opened.case.channel == "mail"
    assert sorted(a.meta["name"] for a in opened.attachments) == ["第1页.jpg", "第2页.jpg"]
    for page in opened.attachments:
        assert page.meta["sanitised"] is True
        assert b"ScannerCanary" not in page.data
        assert Image.open(io.BytesIO(page.data)).size == (40, 56)


async def test_channel_is_required_and_checked(login: Login, demo_runtime: Runtime) -> None:
    operator = await login("hotline")
    for body in ({"text": CALL}, {"text": CALL, "channel": "web"}):
        response = await operator.post("/api/v1/hotline/reports", json=body)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "invalid_channel"
    assert await case_count(demo_runtime) == 0


async def test_only_operators_and_the_office_may_enter(
    login: Login, client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    anonymous = await client.post(
        "/api/v1/hotline/reports", json={"channel": "phone", "text": CALL}
    )
    assert anonymous.status_code == 401
    for username in ("group1", "jw", "leader"):
        staff = await login(username)
        response = await staff.post(
            "/api/v1/hotline/reports", json={"channel": "phone", "text": CALL}
        )
        assert response.status_code == 403, username
    assert await case_count(demo_runtime) == 0


def form_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="(csrf|form_id)" value="([^"]+)"', page))


async def test_console_shows_the_receipt_once_and_refuses_a_resubmission(
    login: Login, demo_runtime: Runtime
) -> None:
    operator = await login("hotline")
    page = await operator.get("/hotline")
    assert page.status_code == 200
    assert "热线与来信登记" in page.text
    hidden = form_fields(page.text)
    fields = {**hidden, "channel": "phone", "text": CALL}
    files = [("attachments", ("录音摘要.jpg", scanned_page(), "image/jpeg"))]
    shown = await operator.post("/hotline", data=fields, files=files)
    assert shown.status_code == 200, shown.text
    groups = re.findall(r"<span>(\d{4})</span>", shown.text)
    assert len(groups) == 5
    receipt = "".join(groups)
    assert (await IntakePipeline(demo_runtime).reporter_view(receipt)).status.value == "received"
    # Refreshing the result page posts the same form again: refused, no second case.
    again = await operator.post("/hotline", data=fields, files=files)
    assert again.status_code == 409
    assert await case_count(demo_runtime) == 1
    # Nothing shows the receipt again.
    assert receipt not in (await operator.get("/hotline")).text
    for group in groups:
        assert f"<span>{group}</span>" not in (await operator.get("/hotline")).text


async def test_console_form_keeps_input_on_error_and_checks_csrf(
    login: Login, demo_runtime: Runtime
) -> None:
    operator = await login("hotline")
    hidden = form_fields((await operator.get("/hotline")).text)
    missing_text = await operator.post(
        "/hotline",
        data={**hidden, "channel": "mail", "accused_name": "孙某某", "text": " "},
        files=[("attachments", ("a.jpg", scanned_page(), "image/jpeg"))],
    )
    assert missing_text.status_code == 422
    assert 'value="孙某某"' in missing_text.text
    forged = await operator.post(
        "/hotline",
        data={"csrf": "forged", "form_id": "x", "channel": "phone", "text": CALL},
        files=[("attachments", ("a.jpg", scanned_page(), "image/jpeg"))],
    )
    assert forged.status_code == 403
    assert await case_count(demo_runtime) == 0


@pytest.mark.parametrize(("username", "start"), [("hotline", "/hotline"), ("group1", "/")])
async def test_login_form_starts_each_role_where_it_can_work(
    client: httpx.AsyncClient, username: str, start: str
) -> None:
    from tests.conftest import DEMO_PASSWORD

    answer = await client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
    assert answer.status_code == 303
    assert answer.headers["location"] == start
    page = await client.get(start)
    assert page.status_code == 200
    assert ('href="/hotline"' in page.text) is (username == "hotline")
