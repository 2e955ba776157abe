"""The HTML console: queue filters and keyset pages, the case page, forms with CSRF,
attachment download."""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from core import access
from core.models import Event, TriageRecord
from core.runtime import Runtime
from tests.admin.case_support import EDUCATION_REPORT, load_case, submit
from tests.admin.conftest import Login
from tests.conftest import BACKENDS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]


@pytest.mark.parametrize("shape", ["sparse", "dense"])
async def test_queue_pages_by_keyset_without_gaps_or_repeats(
    login: Login, demo_runtime: Runtime, monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    if shape == "dense":  # a test county is small: force the plan used for big queues
        monkeypatch.setattr(access, "SPARSE_QUEUE", 0)
    made = {(await submit(demo_runtime))[0] for _ in range(7)}
    group1 = await login("group1")
    seen: list[str] = []
    url = "/api/v1/cases?limit=3"
    while url:
        page = (await group1.get(url)).json()
        seen += [c["id"] for c in page["cases"]]
        url = f"/api/v1/cases?limit=3&after={page['next']}" if page["next"] else ""
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == made
    html = await group1.get("/?limit=3")
    next_link = re.search(r'href="(/\?[^"]*after=[^"]+)"', html.text)
    assert next_link is not None
    second = await group1.get(next_link.group(1).replace("&amp;", "&"))
    assert all(case_id in second.text for case_id in seen[3:6])
    assert (await group1.get("/api/v1/cases?after=garbage")).status_code == 422


async def test_queue_filters(login: Login, demo_runtime: Runtime) -> None:
    case_id, _ = await submit(demo_runtime)
    group1 = await login("group1")
    case = await load_case(demo_runtime, case_id)

    async def ids(query: str) -> set[str]:
        response = await group1.get(f"/api/v1/cases?{query}")
        assert response.status_code == 200, response.text
        return {c["id"] for c in response.json()["cases"]}

    assert case_id in await ids(f"problem_type={case.problem_type}&channel=web&status=received")
    assert case_id not in await ids("channel=phone")
    assert case_id not in await ids("status=closed,duplicate")
    assert case_id not in await ids("deadline=overdue")
    if case.categories:
        assert case_id in await ids(f"discipline={case.categories[0]}")
    assert case_id not in await ids("discipline=life") or "life" in case.categories
    assert (await group1.get("/api/v1/cases?status=bogus")).status_code == 422
    page = await group1.get("/?channel=web")
    assert f"/cases/{case_id}" in page.text


async def test_case_page_and_triage_form_with_csrf(login: Login, demo_runtime: Runtime) -> None:
    case_id, _ = await submit(demo_runtime)
    group1 = await login("group1")
    page = await group1.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert EDUCATION_REPORT.text in page.text
    assert "13800000000" in page.text
    form = {
        "categories": "integrity",
        "primary": "integrity",
        "problem_type": "violation_lead",
        "destination": "county_discipline_commission",
        "reason": "人工核对",
    }
    forged = await group1.post(f"/cases/{case_id}/triage", data={**form, "csrf": "forged"})
    assert forged.status_code == 403
    async with demo_runtime.db.reading() as session:
        records = list(
            await session.scalars(select(TriageRecord).where(TriageRecord.case_id == case_id))
        )
    assert len(records) == 1  # nothing happened
    done = await group1.post(
        f"/cases/{case_id}/triage", data={**form, "csrf": group1.headers["x-csrf-token"]}
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/cases/{case_id}"
    again = await group1.get(f"/cases/{case_id}")
    assert "人工核对" in again.text
    assert "已研判" in again.text
    no_reason = await group1.post(
        f"/cases/{case_id}/triage",
        data={**form, "reason": " ", "csrf": group1.headers["x-csrf-token"]},
    )
    assert no_reason.status_code == 422
    assert "请填写理由" in no_reason.text


async def test_attachment_downloads_decrypted_as_an_attachment(
    login: Login, demo_runtime: Runtime
) -> None:
    photo = os.urandom(150_000)  # three stream segments
    case_id, _ = await submit(demo_runtime, attachment=photo)
    group1 = await login("group1")
    detail = (await group1.get(f"/api/v1/cases/{case_id}")).json()
    [attachment] = detail["attachments"]
    assert attachment["name"] == "现场照片.jpg"
    response = await group1.get(attachment["url"])
    assert response.status_code == 200
    assert response.content == photo
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert unquote(disposition.split("UTF-8''")[1]) == "现场照片.jpg"
    async with demo_runtime.db.reading() as session:
        kinds = list(await session.scalars(select(Event.kind).where(Event.case_id == case_id)))
    assert "attachment.downloaded" in kinds
    missing = await group1.get(f"/api/v1/cases/{case_id}/attachments/nope")
    assert missing.status_code == 404


async def test_case_page_offers_only_the_actions_the_state_allows(
    login: Login, demo_runtime: Runtime
) -> None:
    case_id, _ = await submit(demo_runtime)
    group1, xcb = await login("group1"), await login("xcb")
    fresh = (await group1.get(f"/cases/{case_id}")).text
    assert f"/cases/{case_id}/triage" in fresh
    assert f'/cases/{case_id}/transfer"' in fresh
    assert "/transfer/approve" not in fresh
    await group1.post(
        f"/api/v1/cases/{case_id}/transfer",
        json={"destination": "county_discipline_commission", "note": "请核查"},
    )
    proposed = (await xcb.get(f"/cases/{case_id}")).text
    assert "/transfer/approve" in proposed
    assert f"/cases/{case_id}/triage" not in proposed
    assert f'/cases/{case_id}/transfer"' not in proposed
