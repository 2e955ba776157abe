"""Body-key rotation, 回避 taking effect at once, the ledger, the key file fingerprint."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from core.access import QueueFilter, queue_page, viewer_for, visible_case
from core.body_keys import (
    body_keys_via_escrow,
    complete_pending_grants,
    key_file_fingerprint,
    pending_grants,
    read_escrow_key,
    rotate_body_key,
)
from core.cases import Accused, Channel, NewReport
from core.county import body_by_name, today
from core.errors import InvalidInput, NotFound
from core.ledger import LedgerFormat, export_ledger
from core.models import BodyKey, BodyKeyGrant, Case, CaseKey
from core.recusals import add_person_recusal, add_unit_recusal, recusals_of
from core.runtime import Runtime
from core.settings import Settings
from core.staff_admin import disable_user
from crypto import armour_escrow_key, generate_escrow_key
from crypto.keys import KeyPair
from routing import Destination, Discipline
from tests.admin.administration_support import (
    REPORT,
    EscrowedCounty,
    accept,
    escrowed_demo,
    events,
    invite_member,
    read_case_text,
    submit,
    user_key,
    user_named,
)
from tests.conftest import BACKENDS, DEMO_PASSWORD

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

MEMBER_PASSWORD = "liulin-zhen-qiaotou-2026"
SECOND = NewReport(
    channel=Channel.PHONE,
    text="县教育局有人在食堂采购中吃回扣，请巡察组查一查。",
    accused=Accused(unit="县教育局"),
)


async def test_rotation_new_cases_use_the_new_key_and_old_ones_stay_readable(
    demo_runtime: Runtime,
) -> None:
    old_case = await submit(demo_runtime)
    async with demo_runtime.db.transaction() as session:
        rotation = await rotate_body_key(
            session,
            "第一巡察组",
            escrow=demo_runtime.secrets.escrow_public_key,
            actor_id=None,
        )
    assert rotation.granted_to == ("group1",)
    new_case = await submit(demo_runtime, SECOND)
    async with demo_runtime.db.reading() as session:
        old_key_id = await session.scalar(
            select(CaseKey.body_key_id).where(
                CaseKey.case_id == old_case, CaseKey.body_key_id.in_(rotation.retired_key_ids)
            )
        )
        new_key_id = await session.scalar(
            select(CaseKey.body_key_id).where(
                CaseKey.case_id == new_case, CaseKey.body_key_id == rotation.new_key_id
            )
        )
        retired = await session.get(BodyKey, rotation.retired_key_ids[0])
    assert old_key_id is not None
    assert new_key_id == rotation.new_key_id
    assert retired is not None
    assert retired.retired_at is not None
    keys = await user_key(demo_runtime, "group1", DEMO_PASSWORD)
    assert await read_case_text(demo_runtime, "group1", keys, old_case) == REPORT.text
    assert await read_case_text(demo_runtime, "group1", keys, new_case) == SECOND.text
    (event,) = await events(demo_runtime, "body.key_rotated")
    assert event.detail["new_key"] == rotation.new_key_id


async def _queue_ids(runtime: Runtime, username: str) -> set[str]:
    user = await user_named(runtime, username)
    async with runtime.db.reading() as session:
        viewer = await viewer_for(session, user.id)
        page = await queue_page(session, viewer, QueueFilter(), today=today())
        return {case.id for case in page.cases}


async def test_a_new_unit_recusal_hides_the_units_cases_at_once(demo_runtime: Runtime) -> None:
    case_id = await submit(demo_runtime)
    assert case_id in await _queue_ids(demo_runtime, "group1")
    async with demo_runtime.db.transaction() as session:
        await add_unit_recusal(session, "group1", "教育局", actor_id=None)  # by alias
    assert case_id not in await _queue_ids(demo_runtime, "group1")
    group1 = await user_named(demo_runtime, "group1")
    async with demo_runtime.db.reading() as session:
        viewer = await viewer_for(session, group1.id)
        with pytest.raises(NotFound):
            await visible_case(session, viewer, case_id)
        assert [(e.unit_name, e.by_person) for e in await recusals_of(session, group1)] == [
            ("县教育局", False)
        ]
    # Others still see it: 回避 is personal.
    assert case_id in await _queue_ids(demo_runtime, "xcb")
    (event,) = await events(demo_runtime, "recusal.added")
    assert event.detail == {"user": "group1", "unit": "县教育局"}


async def test_a_person_recusal_hides_cases_about_that_person(demo_runtime: Runtime) -> None:
    about_wang = await submit(demo_runtime)  # accused 王某某 at 县教育局
    about_unit = await submit(demo_runtime, SECOND)  # no person named
    async with demo_runtime.db.transaction() as session:
        added = await add_person_recusal(
            session,
            "xcb",
            "王 某某",
            unit_name="县教育局",
            index_key=demo_runtime.secrets.index_key,
            actor_id=None,
        )
    assert added == 3  # no unit, the name, and its alias 教育局
    visible_ids = await _queue_ids(demo_runtime, "xcb")
    assert about_wang not in visible_ids
    assert about_unit in visible_ids
    (event,) = await events(demo_runtime, "recusal.added")
    assert "王" not in str(event.detail)  # the name never reaches the audit log


async def test_ledger_has_metadata_and_never_content(demo_runtime: Runtime) -> None:
    first = await submit(demo_runtime)
    second = await submit(demo_runtime, SECOND)
    async with demo_runtime.db.transaction() as session:
        data, cases = await export_ledger(session, LedgerFormat.CSV, actor_id=None)
    assert cases == 2
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["案件编号", "受理日期", "渠道", "被反映单位"]
    # A random id may begin with "-", which the CSV ledger guards against formula injection with a
    # leading "'" (ids themselves never contain one).
    by_id = {row[0].removeprefix("'"): row for row in rows[1:]}
    assert set(by_id) == {first, second}
    assert by_id[first][2] == "网络"
    assert by_id[second][2] == "电话"
    assert by_id[first][3] == "县教育局"
    # Tags are whatever the router decided; the ledger shows them as Chinese labels.
    async with demo_runtime.db.reading() as session:
        case = await session.get(Case, first)
        assert case is not None
    assert by_id[first][4] == "、".join(Discipline(c).label for c in case.categories)
    assert "廉洁纪律" in by_id[first][4]
    assert by_id[first][6] == Destination(case.destination).label
    assert by_id[first][8] == "待研判"
    for secret in ("王某某", "红包", "13800000000", "基建股", "回扣", "食堂"):
        assert secret not in text

    async with demo_runtime.db.transaction() as session:
        data, _ = await export_ledger(session, LedgerFormat.XLSX, actor_id=None)
    book = load_workbook(io.BytesIO(data), read_only=True)
    try:
        cells = [
            "" if c is None else str(c)
            for row in book["台账"].iter_rows(values_only=True)
            for c in row
        ]
    finally:
        book.close()
    assert first in cells
    assert "县教育局" in cells
    assert not any(secret in cell for cell in cells for secret in ("王某某", "红包", "回扣"))
    assert [e.detail["format"] for e in await events(demo_runtime, "ledger.exported")] == [
        "csv",
        "xlsx",
    ]


async def test_fingerprint_is_stable_and_escrow_must_match(demo_runtime: Runtime) -> None:
    secrets = demo_runtime.secrets
    fingerprint = key_file_fingerprint(secrets)
    assert fingerprint == key_file_fingerprint(secrets.with_new_cookie_key())
    assert len(fingerprint.split()) == 8
    assert secrets.pepper.hex()[:8].upper() not in fingerprint.replace(" ", "")
    stranger = generate_escrow_key().armoured_private
    with pytest.raises(InvalidInput) as caught:
        read_escrow_key(stranger, secrets)
    assert caught.value.code == "wrong_escrow_key"
    with pytest.raises(InvalidInput):
        read_escrow_key(
            armour_escrow_key(KeyPair.generate()).replace("Checksum: ", "Checksum: 0"), secrets
        )


async def test_removing_a_recusal_shows_the_cases_again_and_is_audited(
    demo_runtime: Runtime,
) -> None:
    from core.recusals import remove_recusal

    case_id = await submit(demo_runtime)
    async with demo_runtime.db.transaction() as session:
        recusal = await add_unit_recusal(session, "group1", "县教育局", actor_id=None)
    assert case_id not in await _queue_ids(demo_runtime, "group1")
    async with demo_runtime.db.transaction() as session:
        await remove_recusal(session, recusal.id, actor_id=None)
    assert case_id in await _queue_ids(demo_runtime, "group1")
    (event,) = await events(demo_runtime, "recusal.removed")
    assert event.detail == {"user": "group1", "unit": "县教育局", "person": False}


async def test_rotation_reaches_pending_members_and_their_old_cases_wait_for_the_grant(
    settings: Settings,
) -> None:
    """A member whose grant was pending gets the new key at rotation (new cases at once) and
    stays listed as pending until someone holding the old generation completes the grant;
    a member disabled before the rotation never receives the new key."""
    async with escrowed_demo(settings) as county:
        runtime = county.runtime
        old_case = await submit(runtime)
        lina = await _invited_member(county, "lina", escrow=False)
        await _invited_member(county, "zhouqi", escrow=True)
        async with runtime.db.transaction() as session:
            await disable_user(session, "zhouqi", actor_id=None)
        async with runtime.db.transaction() as session:
            rotation = await rotate_body_key(
                session, "第一巡察组", escrow=runtime.secrets.escrow_public_key, actor_id=None
            )
        assert rotation.granted_to == ("group1", "lina")
        new_case = await submit(runtime, SECOND)
        assert await read_case_text(runtime, "lina", lina, new_case) == SECOND.text
        with pytest.raises(NotFound):
            await read_case_text(runtime, "lina", lina, old_case)
        async with runtime.db.reading() as session:
            waiting = [(p.username, p.body_name) for p in await pending_grants(session)]
            zhouqi = await user_named(runtime, "zhouqi")
            new_key_grants = await session.scalar(
                select(func.count())
                .select_from(BodyKeyGrant)
                .where(
                    BodyKeyGrant.user_id == zhouqi.id,
                    BodyKeyGrant.body_key_id == rotation.new_key_id,
                )
            )
        assert waiting == [("lina", "第一巡察组")]
        assert new_key_grants == 0
        # `xuncha user grant --escrow-key FILE` (or a member holding the old key) completes it.
        async with runtime.db.transaction() as session:
            body = await body_by_name(session, "第一巡察组")
            keys = await body_keys_via_escrow(session, body, county.escrow)
            assert await complete_pending_grants(session, body, keys, actor_id=None) == ["lina"]
        assert await read_case_text(runtime, "lina", lina, old_case) == REPORT.text
        async with runtime.db.reading() as session:
            assert await pending_grants(session) == []


async def _invited_member(county: EscrowedCounty, username: str, *, escrow: bool) -> KeyPair:
    """A 第一巡察组 member who accepted the invitation; their key, as their session holds it."""
    runtime = county.runtime
    token = await invite_member(runtime, username, escrow=county.escrow if escrow else None)
    await accept(runtime, token, MEMBER_PASSWORD)
    return await user_key(runtime, username, MEMBER_PASSWORD, pepper=True)
