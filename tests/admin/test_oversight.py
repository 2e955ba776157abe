"""Oversight counts: metadata only, and recused cases are not counted."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.county import now
from core.models import Recusal, Unit, User
from core.runtime import Runtime
from tests.admin.case_support import EDUCATION_REPORT, submit
from tests.admin.conftest import Login
from tests.conftest import BACKENDS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]


def _received_total(html: str) -> int:
    row = re.search(r"<tr><td>待研判</td>(.*?)</tr>", html)
    assert row is not None
    return int(re.findall(r"<td>(\d+)</td>", row.group(1))[-1])


async def test_leader_sees_counts_without_content_and_recusal_applies(
    login: Login, demo_runtime: Runtime
) -> None:
    for _ in range(3):
        await submit(demo_runtime)
    leader = await login("leader")
    page = await leader.get("/oversight")
    assert page.status_code == 200
    assert _received_total(page.text) == 3
    assert EDUCATION_REPORT.text not in page.text
    async with demo_runtime.db.transaction() as session:
        leader_id = await session.scalar(select(User.id).where(User.username == "leader"))
        unit_id = await session.scalar(select(Unit.id).where(Unit.name == "县教育局"))
        assert leader_id is not None
        session.add(Recusal(user_id=leader_id, unit_id=unit_id, created_at=now()))
    assert _received_total((await leader.get("/oversight")).text) == 0
