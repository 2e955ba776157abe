"""回避: a recused user never sees the case — not in the queue, the counts, search filters,
related-case links or by its id — whether recused from the unit or from the person."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from core import access
from core.county import now
from core.models import Case, Recusal, Unit, User
from core.runtime import Runtime
from crypto import blind_index
from tests.admin.case_support import EDUCATION_REPORT, load_case, submit
from tests.admin.conftest import Login
from tests.conftest import BACKENDS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]


async def _recuse(
    runtime: Runtime, username: str, *, unit: str | None = None, person: str | None = None
) -> None:
    async with runtime.db.transaction() as session:
        user_id = await session.scalar(select(User.id).where(User.username == username))
        unit_id = await session.scalar(select(Unit.id).where(Unit.name == unit)) if unit else None
        assert user_id is not None
        session.add(
            Recusal(user_id=user_id, unit_id=unit_id, person_index=person, created_at=now())
        )


def _received_total(html: str) -> int:
    """The 待研判 total of the oversight page."""
    row = re.search(r"<tr><td>待研判</td>(.*?)</tr>", html)
    assert row is not None
    return int(re.findall(r"<td>(\d+)</td>", row.group(1))[-1])


async def _move_to_unit(runtime: Runtime, case_id: str, unit: str) -> None:
    """As if a triage corrected the accused unit: the same person, another unit id."""
    async with runtime.db.transaction() as session:
        unit_id = await session.scalar(select(Unit.id).where(Unit.name == unit))
        await session.execute(update(Case).where(Case.id == case_id).values(unit_id=unit_id))


@pytest.mark.parametrize("shape", ["sparse", "dense"])
async def test_unit_recusal_hides_the_case_everywhere(
    login: Login, demo_runtime: Runtime, monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    if shape == "dense":  # both query plans of the queue must apply 回避
        monkeypatch.setattr(access, "SPARSE_QUEUE", 0)
    hidden, _ = await submit(demo_runtime)
    other, _ = await submit(demo_runtime)  # the same person, counted under another unit
    await _move_to_unit(demo_runtime, other, "县财政局")
    xcb = await login("xcb")
    assert _received_total((await xcb.get("/oversight")).text) == 2
    before = (await xcb.get("/api/v1/cases")).json()
    assert {hidden, other} <= {c["id"] for c in before["cases"]}
    related_before = (await xcb.get(f"/api/v1/cases/{other}")).json()["related"]
    assert hidden in {c["id"] for c in related_before}

    await _recuse(demo_runtime, "xcb", unit="县教育局")
    after = (await xcb.get("/api/v1/cases")).json()
    ids = {c["id"] for c in after["cases"]}
    assert hidden not in ids
    assert other in ids
    assert _received_total((await xcb.get("/oversight")).text) == 1  # of the two
    filtered = (await xcb.get("/api/v1/cases?discipline=integrity&status=received")).json()
    assert hidden not in {c["id"] for c in filtered["cases"]}
    assert (await xcb.get(f"/api/v1/cases/{hidden}")).status_code == 404
    assert (await xcb.get(f"/cases/{hidden}")).status_code == 404
    assert (
        await xcb.post(f"/api/v1/cases/{hidden}/messages", json={"text": "x"})
    ).status_code == 404
    related_after = (await xcb.get(f"/api/v1/cases/{other}")).json()["related"]
    assert hidden not in {c["id"] for c in related_after}
    page = await xcb.get(f"/cases/{other}")
    assert hidden not in page.text
    queue = await xcb.get("/")
    assert hidden not in queue.text
    audit = await xcb.get("/audit")
    assert hidden[:8] not in audit.text  # not even the id of its events
    assert other[:8] in audit.text


async def test_person_recusal_follows_the_blind_index_across_units(
    login: Login, demo_runtime: Runtime
) -> None:
    first, _ = await submit(demo_runtime)
    second, _ = await submit(demo_runtime)
    await _move_to_unit(demo_runtime, second, "县财政局")
    person = blind_index(
        demo_runtime.secrets.index_key,
        EDUCATION_REPORT.accused.name or "",
        EDUCATION_REPORT.accused.unit or "",
    )
    assert (await load_case(demo_runtime, first)).blind_index == person
    await _recuse(demo_runtime, "group1", person=person)
    group1 = await login("group1")
    listed = {c["id"] for c in (await group1.get("/api/v1/cases")).json()["cases"]}
    assert first not in listed
    assert second not in listed  # the same person, under another unit
    assert (await group1.get(f"/api/v1/cases/{first}")).status_code == 404
    # Someone else is unaffected.
    xcb = await login("xcb")
    assert (await xcb.get(f"/api/v1/cases/{first}")).status_code == 200
