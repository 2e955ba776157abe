"""Unit import (CSV and XLSX, all or nothing) and rounds (a unit never in two groups at once)."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from core.county import today
from core.errors import Conflict
from core.models import Body, Round, RoundAssignment, Unit, UnitAlias
from core.registry_store import load_registry
from core.rounds_admin import (
    create_round,
    parse_assignment,
    parse_round_kind,
    reassign_round,
)
from core.runtime import Runtime
from core.unit_import import ImportResult, UnitImportRejected, import_units, read_sheet
from tests.admin.administration_support import count, events
from tests.conftest import BACKENDS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

GOOD_CSV = "名称,类型,别名\n县审计局,县政府部门,审计局\n柳林镇,镇（街道）,柳林镇政府、柳林镇党委\n"


async def _import(runtime: Runtime, filename: str, data: bytes) -> ImportResult:
    async with runtime.db.transaction() as session:
        return await import_units(
            session,
            read_sheet(filename, data),
            escrow=runtime.secrets.escrow_public_key,
            actor_id=None,
        )


async def test_csv_import_creates_units_aliases_and_party_orgs(demo_runtime: Runtime) -> None:
    units_before = await count(demo_runtime, Unit)
    result = await _import(demo_runtime, "units.csv", GOOD_CSV.encode("utf-8-sig"))
    assert result.created == ["县审计局", "柳林镇"]
    assert await count(demo_runtime, Unit) == units_before + 2
    async with demo_runtime.db.reading() as session:
        liulin = await session.scalar(select(Unit).where(Unit.name == "柳林镇"))
        assert liulin is not None
        assert liulin.kind == "镇（街道）"
        aliases = set(
            await session.scalars(select(UnitAlias.alias).where(UnitAlias.unit_id == liulin.id))
        )
        assert aliases == {"柳林镇政府", "柳林镇党委"}
        org = await session.scalar(select(Body).where(Body.name == "柳林镇党组织"))
        assert org is not None
        assert org.unit_id == liulin.id
        # The router sees the new unit under its alias at once.
        registry = await load_registry(session)
        matched = registry.match_unit("柳林镇政府").unit
        assert matched is not None
        assert matched.id == liulin.id
    (event,) = await events(demo_runtime, "units.imported")
    assert event.detail["created"] == ["县审计局", "柳林镇"]
    # Importing the same sheet again changes nothing.
    again = await _import(demo_runtime, "units.csv", GOOD_CSV.encode("utf-8"))
    assert again.unchanged == ["县审计局", "柳林镇"]
    assert await count(demo_runtime, Unit) == units_before + 2


async def test_csv_with_a_bad_row_imports_nothing_and_names_every_bad_row(
    demo_runtime: Runtime,
) -> None:
    sheet = (
        "名称,类型,别名\n"
        "县审计局,县政府部门,审计局\n"  # row 2: fine
        "县统计局,县直单位,\n"  # row 3: unknown type
        ",事业单位,\n"  # row 4: no name
        "县档案馆,事业单位,教育局\n"  # row 5: alias belongs to 县教育局 already
        "县审计局,县政府部门,\n"  # row 6: duplicate of row 2
    )
    units_before = await count(demo_runtime, Unit)
    bodies_before = await count(demo_runtime, Body)
    with pytest.raises(UnitImportRejected) as caught:
        await _import(demo_runtime, "units.csv", sheet.encode("gb18030"))
    assert [p.line for p in caught.value.problems] == [3, 4, 5, 6]
    assert "县直单位" in caught.value.message
    assert "未导入任何单位" in caught.value.message
    assert await count(demo_runtime, Unit) == units_before
    assert await count(demo_runtime, Body) == bodies_before
    assert await events(demo_runtime, "units.imported") == []


async def test_xlsx_import(demo_runtime: Runtime) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["名称", "类型", "别名"])
    sheet.append(["县城乡供水有限公司", "国有企业", "供水公司，县水司"])
    sheet.append(["西湾村", "重点村（社区）", None])
    sheet.append([None, None, None])  # trailing blank row
    data = io.BytesIO()
    book.save(data)
    result = await _import(demo_runtime, "单位.XLSX", data.getvalue())
    assert result.created == ["县城乡供水有限公司", "西湾村"]
    async with demo_runtime.db.reading() as session:
        water = await session.scalar(select(Unit).where(Unit.name == "县城乡供水有限公司"))
        assert water is not None
        assert water.kind == "国有企业"
        assert set(
            await session.scalars(select(UnitAlias.alias).where(UnitAlias.unit_id == water.id))
        ) == {"供水公司", "县水司"}


async def test_missing_header_is_refused(demo_runtime: Runtime) -> None:
    with pytest.raises(UnitImportRejected) as caught:
        await _import(demo_runtime, "u.csv", "单位,种类\n县审计局,县政府部门\n".encode())
    assert caught.value.problems[0].line == 1


async def _round_count(runtime: Runtime) -> tuple[int, int]:
    return await count(runtime, Round), await count(runtime, RoundAssignment)


async def test_a_unit_in_two_groups_in_one_round_is_refused(demo_runtime: Runtime) -> None:
    before = await _round_count(demo_runtime)
    start = today() + timedelta(days=60)
    with pytest.raises(Conflict) as caught:
        async with demo_runtime.db.transaction() as session:
            await create_round(
                session,
                "十五届县委第四轮巡察",
                parse_round_kind("常规"),
                start,
                start + timedelta(days=30),
                dict(
                    [
                        parse_assignment("第一巡察组=县财政局,河口镇"),
                        parse_assignment("第二巡察组＝县发改局，河口镇党委"),  # alias of 河口镇
                    ]
                ),
                actor_id=None,
            )
    assert caught.value.code == "round_conflict"
    assert "河口镇" in caught.value.message
    assert await _round_count(demo_runtime) == before


async def test_overlapping_round_may_not_give_a_unit_to_another_group(
    demo_runtime: Runtime,
) -> None:
    # The demo round runs today-10 .. today+20 with 县教育局 in 第一巡察组.
    before = await _round_count(demo_runtime)
    with pytest.raises(Conflict):
        async with demo_runtime.db.transaction() as session:
            await create_round(
                session,
                "教育领域专项巡察",
                parse_round_kind("专项"),
                today(),
                today() + timedelta(days=40),
                {"第二巡察组": ["县教育局"]},
                actor_id=None,
            )
    assert await _round_count(demo_runtime) == before
    # After the demo round ends, the same unit may go to another group.
    start = today() + timedelta(days=21)
    async with demo_runtime.db.transaction() as session:
        await create_round(
            session,
            "教育领域专项巡察",
            parse_round_kind("专项"),
            start,
            start + timedelta(days=30),
            {"第二巡察组": ["县教育局"], "第三巡察组": ["东风村"]},
            actor_id=None,
        )
    (event,) = await events(demo_runtime, "round.created")
    assert event.detail["assignments"] == {"第二巡察组": ["县教育局"], "第三巡察组": ["东风村"]}
    assert event.detail["kind"] == "special"


async def test_changes_after_a_round_started_are_audited(demo_runtime: Runtime) -> None:
    async with demo_runtime.db.transaction() as session:
        await reassign_round(
            session,
            "十五届县委第三轮巡察",
            {
                "第一巡察组": ["县教育局", "县财政局"],
                "第二巡察组": ["县自然资源局"],
                "第三巡察组": ["青山镇"],
                "第四巡察组": ["县城投公司"],
                "第五巡察组": ["县人民医院"],
            },
            actor_id=None,
        )
    (event,) = await events(demo_runtime, "round.reassigned_after_start")
    assert event.detail["before"]["第一巡察组"] == ["县教育局"]
    assert event.detail["after"]["第一巡察组"] == ["县教育局", "县财政局"]
    async with demo_runtime.db.reading() as session:
        registry = await load_registry(session)
        finance = await session.scalar(select(Unit.id).where(Unit.name == "县财政局"))
        assert finance is not None
        found = registry.inspecting_group(finance, today())
        assert found is not None
        assert found[1].group_name == "第一巡察组"


async def test_round_dates_must_be_in_order(demo_runtime: Runtime) -> None:
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        async with demo_runtime.db.transaction() as session:
            await create_round(
                session,
                "倒序",
                parse_round_kind("常规"),
                date(2027, 5, 1),
                date(2027, 4, 1),
                {"第一巡察组": ["县财政局"]},
                actor_id=None,
            )
