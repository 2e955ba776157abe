"""decide(): 第十九条 destinations, the round's 巡察组, the office, and 回避."""

from __future__ import annotations

import sys
import types
from dataclasses import FrozenInstanceError, replace
from datetime import date, timedelta

import pytest

from routing import (
    Classification,
    Decision,
    Destination,
    Discipline,
    ProblemType,
    Recusal,
    Registry,
    RoutingFacts,
    decide,
    decide_report,
)


def _classified(
    problem_type: ProblemType = ProblemType.VIOLATION_LEAD,
    categories: tuple[Discipline, ...] = (Discipline.INTEGRITY,),
) -> Classification:
    return Classification(
        categories=categories,
        primary=categories[0] if categories else None,
        problem_type=problem_type,
        explanation=("命中“收受红包”，归入廉洁纪律",),
    )


def _route(
    registry: Registry,
    unit: str | None,
    on: date,
    problem_type: ProblemType = ProblemType.VIOLATION_LEAD,
    *,
    text: str = "某局长收受红包",
    accused_position: str | None = None,
) -> Decision:
    report = RoutingFacts(
        text=text,
        accused_unit=unit,
        accused_position=accused_position,
        received_on=on,
        registry=registry,
    )
    return decide(report, _classified(problem_type))


@pytest.mark.parametrize(
    ("problem_type", "destination", "sentence"),
    [
        (
            ProblemType.VIOLATION_LEAD,
            Destination.COUNTY_DISCIPLINE_COMMISSION,
            "按第十九条，违纪违法问题线索移交县纪委",
        ),
        (
            ProblemType.ORG_PERSONNEL,
            Destination.ORGANIZATION_DEPARTMENT,
            "按第十九条，组织建设、选人用人问题移交县委组织部",
        ),
        (
            ProblemType.WORK_ISSUE,
            Destination.UNIT_PARTY_ORG,
            "按第十九条，工作方面问题移交被巡察单位党组织",
        ),
        (ProblemType.OTHER, Destination.RELEVANT_DEPARTMENT, "按第十九条，其他问题移交相关部门"),
        (
            ProblemType.INSPECTOR_MISCONDUCT,
            Destination.INSPECTION_OFFICE,
            "反映巡察人员问题一律由县委巡察办办理（第二十五条、第二十七条）",
        ),
    ],
)
def test_each_problem_type_has_its_destination(
    problem_type: ProblemType, destination: Destination, sentence: str, demo_today: date
) -> None:
    decision = _route(Registry.empty(), None, demo_today, problem_type)
    assert decision.destination is destination
    assert decision.problem_type is problem_type
    assert any(s.startswith(sentence) for s in decision.explanation)
    assert decision.assignee_name == "县委巡察办"


def test_unit_under_inspection_goes_to_its_group(demo_county: Registry, demo_today: date) -> None:
    decision = _route(demo_county, "县教育局", demo_today)
    assert decision.unit_id == "edu"
    assert (decision.assignee_body_id, decision.assignee_name) == ("group-1", "第一巡察组")
    assert decision.round_id == "round-15-3"
    assert (
        "被反映单位“县教育局”由十五届县委第三轮巡察第一巡察组负责（2026-11-18至2026-12-18）"
        in decision.explanation
    )


@pytest.mark.parametrize(
    ("unit", "group"),
    [
        ("自然资源局", "第二巡察组"),
        ("示范县青山镇", "第三巡察组"),
        ("城投公司", "第四巡察组"),
        ("县医院", "第五巡察组"),
    ],
)
def test_every_demo_group_receives_its_unit(
    demo_county: Registry, demo_today: date, unit: str, group: str
) -> None:
    assert _route(demo_county, unit, demo_today).assignee_name == group


def test_round_start_and_end_days_are_inclusive(demo_county: Registry) -> None:
    (round_,) = demo_county.rounds
    for day in (round_.start, round_.end):
        assert _route(demo_county, "县教育局", day).assignee_name == "第一巡察组"
    for day in (round_.start - timedelta(1), round_.end + timedelta(1)):
        decision = _route(demo_county, "县教育局", day)
        assert decision.assignee_body_id == "office"
        assert decision.unit_id == "edu"
        assert decision.round_id is None
        assert any("不在" in s and "进行中的巡察范围内" in s for s in decision.explanation)


def test_unit_in_no_round_goes_to_the_office(demo_county: Registry, demo_today: date) -> None:
    decision = _route(demo_county, "县财政局", demo_today)
    assert decision.unit_id == "finance"
    assert (decision.assignee_body_id, decision.assignee_name) == ("office", "县委巡察办")
    assert decision.destination is Destination.COUNTY_DISCIPLINE_COMMISSION


@pytest.mark.parametrize("unit", ["县公安局", "县教育局和县医院"])
def test_unmatched_or_ambiguous_unit_goes_to_the_office(
    demo_county: Registry, demo_today: date, unit: str
) -> None:
    decision = _route(demo_county, unit, demo_today)
    assert decision.unit_id is None
    assert decision.assignee_body_id == "office"
    assert "未匹配到在巡单位，由县委巡察办处理" in decision.explanation


def test_ambiguity_is_explained(demo_county: Registry, demo_today: date) -> None:
    decision = _route(demo_county, "县教育局和县医院", demo_today)
    assert any("无法确定" in s and "县人民医院" in s for s in decision.explanation)


def test_inspector_misconduct_never_goes_to_a_group(
    demo_county: Registry, demo_today: date
) -> None:
    decision = _route(
        demo_county,
        "县教育局",
        demo_today,
        ProblemType.INSPECTOR_MISCONDUCT,
        text="第一巡察组的人在县教育局吃请",
    )
    assert decision.unit_id == "edu"
    assert decision.destination is Destination.INSPECTION_OFFICE
    assert (decision.assignee_body_id, decision.assignee_name) == ("office", "县委巡察办")
    assert decision.round_id is None
    assert not any("巡察组负责" in s for s in decision.explanation)


def test_recused_group_members_are_excluded(demo_county: Registry, demo_today: date) -> None:
    registry = replace(
        demo_county,
        group_members={**demo_county.group_members, "group-1": ("group1", "g1b")},
        recusals=(Recusal("group1", "edu"), Recusal("group2", "natres")),
    )
    decision = _route(registry, "县教育局", demo_today)
    assert decision.assignee_name == "第一巡察组"
    assert decision.excluded_user_ids == {"group1"}
    assert "第一巡察组1名成员因回避不得查看" in decision.explanation


def test_recused_users_outside_the_group_are_excluded_too(
    demo_county: Registry, demo_today: date
) -> None:
    # SPEC §4: recused members never see the case, whichever body reads it later.
    registry = replace(demo_county, recusals=(Recusal("xcb", "edu"),))
    decision = _route(registry, "县教育局", demo_today)
    assert decision.excluded_user_ids == {"xcb"}
    assert "另有1名人员因回避“县教育局”不得查看" in decision.explanation


def test_recusal_applies_when_the_office_handles_the_case(
    demo_county: Registry, demo_today: date
) -> None:
    registry = replace(demo_county, recusals=(Recusal("xcb", "finance"),))
    decision = _route(registry, "县财政局", demo_today)
    assert decision.assignee_body_id == "office"
    assert decision.excluded_user_ids == {"xcb"}
    assert "县委巡察办1名成员因回避不得查看" in decision.explanation


def test_group_with_every_member_recused_hands_over_to_the_office(
    demo_county: Registry, demo_today: date
) -> None:
    registry = replace(demo_county, recusals=(Recusal("group1", "edu"),))
    decision = _route(registry, "县教育局", demo_today)
    assert decision.assignee_body_id == "office"
    assert decision.excluded_user_ids == {"group1"}
    assert any("全体成员均须回避" in s for s in decision.explanation)


def test_no_unit_means_no_exclusions(demo_county: Registry, demo_today: date) -> None:
    registry = replace(demo_county, recusals=(Recusal("xcb", "edu"),))
    assert _route(registry, None, demo_today, text="有人乱收费").excluded_user_ids == frozenset()


def test_classifier_reasons_come_first(demo_county: Registry, demo_today: date) -> None:
    decision = _route(demo_county, "县教育局", demo_today)
    assert decision.explanation[0] == "命中“收受红包”，归入廉洁纪律"
    assert decision.categories == (Discipline.INTEGRITY,)
    assert decision.primary is Discipline.INTEGRITY


def test_work_issue_names_the_units_party_organisation(
    demo_county: Registry, demo_today: date
) -> None:
    decision = _route(demo_county, "青山镇", demo_today, ProblemType.WORK_ISSUE)
    assert "按第十九条，工作方面问题移交青山镇党组织" in decision.explanation


@pytest.mark.parametrize("hint", list(Discipline))
def test_category_hint_is_recorded_but_never_decides(
    demo_county: Registry, demo_today: date, hint: Discipline
) -> None:
    facts = RoutingFacts(
        text="某局长收受红包",
        accused_unit="县教育局",
        category_hint=hint,
        received_on=demo_today,
        registry=demo_county,
    )
    classified = _classified(ProblemType.ORG_PERSONNEL, (Discipline.ORGANIZATIONAL,))
    decision = decide(facts, classified)
    unhinted = decide(replace(facts, category_hint=None), classified)
    assert decision.problem_type is ProblemType.ORG_PERSONNEL
    assert decision.destination is Destination.ORGANIZATION_DEPARTMENT
    assert decision.categories == unhinted.categories == (Discipline.ORGANIZATIONAL,)
    assert decision.assignee_body_id == unhinted.assignee_body_id
    assert any(hint.label in s and "仅供参考" in s for s in decision.explanation)
    assert not any("举报人选择" in s for s in unhinted.explanation)


def test_unit_is_found_in_position_when_unit_is_blank(
    demo_county: Registry, demo_today: date
) -> None:
    decision = _route(demo_county, "  ", demo_today, accused_position="县自然资源局副局长")
    assert decision.unit_id == "natres"
    assert decision.assignee_name == "第二巡察组"
    assert any(s.startswith("未填写被反映单位，据职务") for s in decision.explanation)


def test_unit_is_found_in_the_text_when_unit_is_blank(
    demo_county: Registry, demo_today: date
) -> None:
    decision = _route(demo_county, None, demo_today, text="县人民医院采购科长收回扣。")
    assert decision.unit_id == "hospital"
    assert decision.assignee_name == "第五巡察组"


def test_text_is_not_searched_when_the_reporter_named_a_unit(
    demo_county: Registry, demo_today: date
) -> None:
    decision = _route(demo_county, "某某私营公司", demo_today, text="我向县教育局反映过")
    assert decision.unit_id is None
    assert decision.assignee_body_id == "office"


def test_empty_registry_routes_everything_to_the_office(demo_today: date) -> None:
    decision = _route(Registry.empty(), "县教育局", demo_today)
    assert decision.assignee_name == "县委巡察办"
    assert decision.excluded_user_ids == frozenset()


def test_decision_is_frozen(demo_county: Registry, demo_today: date) -> None:
    decision = _route(demo_county, "县教育局", demo_today)
    with pytest.raises(FrozenInstanceError):
        decision.assignee_body_id = "group-2"  # type: ignore[misc]


def test_decide_report_passes_the_facts_to_the_classifier(
    demo_county: Registry, demo_today: date
) -> None:
    seen: list[tuple[str, str | None, str | None, Discipline | None]] = []

    def fake_classify(
        text: str,
        *,
        position: str | None = None,
        unit: str | None = None,
        hint: Discipline | None = None,
    ) -> Classification:
        seen.append((text, position, unit, hint))
        return _classified(ProblemType.WORK_ISSUE)

    facts = RoutingFacts(
        text="食堂乱收费",
        accused_unit="县教育局",
        accused_position="局长",
        category_hint=Discipline.MASS,
        received_on=demo_today,
        registry=demo_county,
    )
    decision = decide_report(facts, fake_classify)
    assert seen == [("食堂乱收费", "局长", "县教育局", Discipline.MASS)]
    assert decision.destination is Destination.UNIT_PARTY_ORG
    assert decision.assignee_name == "第一巡察组"


def test_hint_matching_a_secondary_category_is_noted(
    demo_county: Registry, demo_today: date
) -> None:
    facts = RoutingFacts(
        text="局长收钱提拔亲戚",
        category_hint=Discipline.ORGANIZATIONAL,
        received_on=demo_today,
        registry=demo_county,
    )
    classified = _classified(categories=(Discipline.INTEGRITY, Discipline.ORGANIZATIONAL))
    decision = decide(facts, classified)
    assert decision.categories == (Discipline.INTEGRITY, Discipline.ORGANIZATIONAL)
    assert any("组织纪律，为自动分类的次要类别" in s for s in decision.explanation)


def test_decide_report_uses_routing_classify_by_default(
    demo_county: Registry, demo_today: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = types.ModuleType("routing.classify")
    fake.classify = lambda text, **_: _classified(ProblemType.OTHER)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "routing.classify", fake)
    facts = RoutingFacts(text="邻居占道经营", received_on=demo_today, registry=demo_county)
    assert decide_report(facts).destination is Destination.RELEVANT_DEPARTMENT
