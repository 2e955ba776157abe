"""The full 移交 flow (第十九条): triage, proposal, 巡察办 approval, feedback, close.

The destination body holds no key until approval: before it, the case does not exist for
them; after it, they read the report and the due date one month on, with days left.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.county import today
from core.models import CaseKey, Event, OutboxItem
from core.runtime import Runtime
from intake.pipeline import IntakePipeline
from routing.deadlines import add_calendar_month
from tests.admin.case_support import EDUCATION_REPORT, body_id, load_case, submit
from tests.admin.conftest import Login
from tests.conftest import BACKENDS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]


async def test_destination_reads_only_after_approval(login: Login, demo_runtime: Runtime) -> None:
    case_id, receipt = await submit(demo_runtime)
    group1, xcb, jw, zzb = [await login(u) for u in ("group1", "xcb", "jw", "zzb")]
    jw_body = await body_id(demo_runtime, "县纪委")

    opened = await group1.get(f"/api/v1/cases/{case_id}")
    assert opened.status_code == 200
    assert opened.json()["text"] == EDUCATION_REPORT.text
    assert opened.json()["accused"]["name"] == "王某某"

    triage = await group1.post(
        f"/api/v1/cases/{case_id}/triage",
        json={
            "categories": ["integrity"],
            "primary": "integrity",
            "problem_type": "violation_lead",
            "destination": "county_discipline_commission",
            "reason": "收受红包，属违纪问题线索",
        },
    )
    assert triage.status_code == 200, triage.text
    proposed = await group1.post(
        f"/api/v1/cases/{case_id}/transfer",
        json={"destination": "county_discipline_commission", "note": "请县纪委核查"},
    )
    assert proposed.status_code == 200, proposed.text

    # Before approval: no key for 县纪委, and the case is invisible to its members.
    async with demo_runtime.db.reading() as session:
        keyed = set(
            await session.scalars(select(CaseKey.body_id).where(CaseKey.case_id == case_id))
        )
    assert jw_body not in keyed
    assert (await jw.get(f"/api/v1/cases/{case_id}")).status_code == 404
    assert case_id not in {c["id"] for c in (await jw.get("/api/v1/cases")).json()["cases"]}
    assert (
        await jw.post(f"/api/v1/cases/{case_id}/feedback", json={"text": "x"})
    ).status_code == 404
    # The proposing group cannot approve its own proposal.
    assert (await group1.post(f"/api/v1/cases/{case_id}/transfer/approve")).status_code == 403

    approved = await xcb.post(f"/api/v1/cases/{case_id}/transfer/approve")
    assert approved.status_code == 200, approved.text
    due = add_calendar_month(today())
    assert approved.json()["due_on"] == due.isoformat()
    assert approved.json()["days_left"] == (due - today()).days

    seen = await jw.get(f"/api/v1/cases/{case_id}")
    assert seen.status_code == 200
    assert seen.json()["text"] == EDUCATION_REPORT.text
    assert seen.json()["status"] == "transferred"
    assert seen.json()["due_on"] == due.isoformat()
    assert seen.json()["transfers"][0]["note"] == "请县纪委核查"
    assert "feedback" in seen.json()["allowed"]
    office_view = set((await xcb.get(f"/api/v1/cases/{case_id}")).json()["allowed"])
    assert "reply" in office_view
    assert not office_view & {"triage", "decide_transfer", "close"}  # not in this state
    # Another destination body still sees nothing.
    assert (await zzb.get(f"/api/v1/cases/{case_id}")).status_code == 404

    page = await jw.get(f"/cases/{case_id}")
    assert "剩余" in page.text
    assert due.isoformat() in page.text

    feedback = await jw.post(
        f"/api/v1/cases/{case_id}/feedback", json={"text": "已立案审查，给予党内警告处分。"}
    )
    assert feedback.status_code == 200, feedback.text
    closed = await group1.post(f"/api/v1/cases/{case_id}/close")
    assert closed.status_code == 200, closed.text
    final = (await xcb.get(f"/api/v1/cases/{case_id}")).json()
    assert final["status"] == "closed"
    assert final["transfers"][0]["feedback"] == "已立案审查，给予党内警告处分。"
    assert [t["author"] for t in final["triage"]] == [None, "group1"]  # the original stays

    view = await IntakePipeline(demo_runtime).reporter_view(receipt)
    assert view.status.value == "closed"

    async with demo_runtime.db.reading() as session:
        kinds = list(await session.scalars(select(Event.kind).where(Event.case_id == case_id)))
        outbox = [o.payload for o in await session.scalars(select(OutboxItem))]
    for kind in (
        "case.viewed",
        "case.triaged",
        "transfer.proposed",
        "transfer.approved",
        "transfer.feedback",
        "case.closed",
    ):
        assert kind in kinds
    reasons = {(p["reason"], p["body_id"]) for p in outbox}
    assert ("transfer_approved", jw_body) in reasons
    assert ("transfer_proposed", await body_id(demo_runtime, "县委巡察办")) in reasons
    assert ("feedback_received", await body_id(demo_runtime, "第一巡察组")) in reasons
    # Payloads name bodies and reasons, never what the report says.
    assert all("王某某" not in str(p) for p in outbox)


async def test_rejected_transfer_returns_to_triage_with_the_reason_as_a_note(
    login: Login, demo_runtime: Runtime
) -> None:
    case_id, _ = await submit(demo_runtime)
    group1, xcb = await login("group1"), await login("xcb")
    await group1.post(
        f"/api/v1/cases/{case_id}/transfer",
        json={"destination": "organization_department", "note": "涉及选人用人"},
    )
    refused = await xcb.post(
        f"/api/v1/cases/{case_id}/transfer/reject", json={"reason": "应移交纪委"}
    )
    assert refused.status_code == 200
    case = await load_case(demo_runtime, case_id)
    assert case.status == "triaged"
    assert case.due_on is None
    detail = (await group1.get(f"/api/v1/cases/{case_id}")).json()
    assert any("应移交纪委" in m["text"] and m["from"] == "note" for m in detail["messages"])
    zzb = await login("zzb")
    assert (await zzb.get(f"/api/v1/cases/{case_id}")).status_code == 404


async def test_not_accepted_reason_reaches_the_reporter(
    login: Login, demo_runtime: Runtime
) -> None:
    case_id, receipt = await submit(demo_runtime)
    group1 = await login("group1")
    refused = await group1.post(
        f"/api/v1/cases/{case_id}/close",
        json={"outcome": "not_accepted", "reason": "属于涉法涉诉事项，请向县人民法院反映。"},
    )
    assert refused.status_code == 200, refused.text
    view = await IntakePipeline(demo_runtime).reporter_view(receipt)
    assert view.status.value == "not_accepted"
    assert view.messages[-1].text == "属于涉法涉诉事项，请向县人民法院反映。"
    # A closed-out case cannot be transferred any more.
    again = await group1.post(
        f"/api/v1/cases/{case_id}/transfer",
        json={"destination": "relevant_department", "note": "x"},
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_transition"


async def test_reply_reaches_the_reporter_and_notes_do_not(
    login: Login, demo_runtime: Runtime
) -> None:
    case_id, receipt = await submit(demo_runtime)
    group1 = await login("group1")
    reply = await group1.post(
        f"/api/v1/cases/{case_id}/messages", json={"text": "已收到，正在核实。"}
    )
    assert reply.status_code == 201
    note = await group1.post(
        f"/api/v1/cases/{case_id}/messages", json={"text": "内部：与上月线索关联", "internal": True}
    )
    assert note.status_code == 201
    view = await IntakePipeline(demo_runtime).reporter_view(receipt)
    assert [m.text for m in view.messages] == ["已收到，正在核实。"]
    empty = await group1.post(f"/api/v1/cases/{case_id}/messages", json={"text": "  "})
    assert empty.status_code == 422
