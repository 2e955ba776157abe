"""Shared fixtures for routing tests: the demo county of SPEC §7."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from routing.registry import GroupAssignment, Registry, Round, Unit

# A fixed "today" keeps the suite independent of the machine's clock.
DEMO_TODAY = date(2026, 11, 28)

DEMO_UNITS = (
    Unit("edu", "县教育局", ("教体局",), "局"),
    Unit("natres", "县自然资源局", ("自然资源局", "国土局"), "局"),
    Unit("health", "县卫生健康局", ("卫健局",), "局"),
    Unit("housing", "县住房和城乡建设局", ("住建局",), "局"),
    Unit("finance", "县财政局", (), "局"),
    Unit("ndrc", "县发展和改革局", ("发改局",), "局"),
    Unit("qingshan", "青山镇", (), "镇"),
    Unit("hekou", "河口镇", (), "镇"),
    Unit("ctic", "县城市建设投资有限公司", ("城投公司",), "国有企业"),
    Unit("hospital", "县人民医院", ("县医院",), "事业单位"),
    Unit("dongfeng", "东风村", (), "村"),
)

GROUP_NAMES = ("第一巡察组", "第二巡察组", "第三巡察组", "第四巡察组", "第五巡察组")
DEMO_ASSIGNED = ("edu", "natres", "qingshan", "ctic", "hospital")


def demo_round(today: date = DEMO_TODAY) -> Round:
    """十五届县委第三轮巡察, today − 10 days to today + 20 days."""
    return Round(
        id="round-15-3",
        name="十五届县委第三轮巡察",
        kind="regular",
        start=today - timedelta(days=10),
        end=today + timedelta(days=20),
        assignments=tuple(
            GroupAssignment(f"group-{i}", name, (unit_id,))
            for i, (name, unit_id) in enumerate(zip(GROUP_NAMES, DEMO_ASSIGNED, strict=True), 1)
        ),
    )


def demo_registry(today: date = DEMO_TODAY) -> Registry:
    members = {f"group-{i}": (f"group{i}",) for i in range(1, 6)}
    members["office"] = ("xcb",)
    return Registry(
        units=DEMO_UNITS,
        rounds=(demo_round(today),),
        recusals=(),
        office_body_id="office",
        office_name="县委巡察办",
        group_members=members,
    )


@pytest.fixture
def demo_county() -> Registry:
    return demo_registry()


@pytest.fixture
def demo_today() -> date:
    return DEMO_TODAY
