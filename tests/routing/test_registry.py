"""Units, rounds and recusals: what the router may rely on."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.registry import (
    GroupAssignment,
    MatchKind,
    Recusal,
    Registry,
    RegistryError,
    Round,
    RoundConflict,
    Unit,
    core_key,
    name_key,
)

D = date(2026, 3, 1)


def _round(*assignments: GroupAssignment, start: date = D, days: int = 14, **kw: str) -> Round:
    fields = {"id": "r1", "name": "第一轮巡察", "kind": "regular"} | kw
    return Round(
        fields["id"], fields["name"], fields["kind"], start, start + timedelta(days), assignments
    )


@pytest.mark.parametrize(
    ("text", "unit_id", "kind"),
    [
        ("县教育局", "edu", MatchKind.NAME),
        ("教体局", "edu", MatchKind.ALIAS),
        ("城投公司", "ctic", MatchKind.ALIAS),
        ("教育局", "edu", MatchKind.NORMALISED),
        ("示范县教育局", "edu", MatchKind.NORMALISED),
        ("青岚县教育局", "edu", MatchKind.NORMALISED),
        ("县 教 育 局", "edu", MatchKind.NAME),
        ("县教育局。", "edu", MatchKind.NAME),
        ("ＸＸ县　教育局", "edu", MatchKind.NORMALISED),
        ("县城投公司", "ctic", MatchKind.NORMALISED),
        ("人民医院", "hospital", MatchKind.NORMALISED),
        ("县教育局基建股", "edu", MatchKind.CONTAINED),
        ("县教育局（基建股）", "edu", MatchKind.CONTAINED),
        ("示范县人民医院儿科", "hospital", MatchKind.CONTAINED),
        ("青山镇东风村", "dongfeng", MatchKind.CONTAINED),
    ],
)
def test_unit_text_matches_one_unit(
    demo_county: Registry, text: str, unit_id: str, kind: MatchKind
) -> None:
    match = demo_county.match_unit(text)
    assert match.unit is not None
    assert (match.unit.id, match.kind) == (unit_id, kind)
    assert match.unit.name in match.explanation


def test_full_width_latin_and_digits_fold_to_half_width() -> None:
    registry = Registry((Unit("s2", "第2中学", ("ABC公司",)),), (), (), "office", "县委巡察办")
    assert registry.match_unit("第２中学").unit == registry.units[0]
    assert registry.match_unit("ａｂｃ公司").unit == registry.units[0]


@pytest.mark.parametrize("text", ["县教育局和县财政局", "青山镇、东风村", "县教育局 县医院"])
def test_two_units_named_apart_are_ambiguous(demo_county: Registry, text: str) -> None:
    match = demo_county.match_unit(text)
    assert match.unit is None
    assert match.kind is MatchKind.AMBIGUOUS
    assert len(match.candidates) == 2
    assert "无法确定" in match.explanation
    assert all(u.name in match.explanation for u in match.candidates)


def test_shared_alias_is_ambiguous_not_first_come() -> None:
    units = (Unit("a", "县第一中学", ("一中",)), Unit("b", "县第一初级中学", ("一中",)))
    match = Registry(units, (), (), "office", "县委巡察办").match_unit("一中")
    assert match.unit is None
    assert match.kind is MatchKind.AMBIGUOUS
    assert match.candidates == units


def test_explanation_never_repeats_what_the_reporter_typed(demo_county: Registry) -> None:
    secret = "王某某家族企业"
    for text in (secret, f"{secret}县教育局", f"县财政局{secret}县教育局"):
        assert secret not in demo_county.match_unit(text).explanation


@pytest.mark.parametrize("text", ["县公安局", "教育", "医院", "", "   ", None])
def test_unknown_or_too_short_text_matches_nothing(demo_county: Registry, text: str | None) -> None:
    match = demo_county.match_unit(text)
    assert match.unit is None
    assert match.kind is MatchKind.NONE
    assert match.candidates == ()


def test_county_prefix_is_stripped_only_at_the_start() -> None:
    assert core_key("县教育局") == core_key("示范县教育局") == core_key("教育局") == "教育局"
    assert core_key("县城市建设投资有限公司") == "城市建设投资有限公司"
    assert core_key("青山镇") == "青山镇"
    assert name_key(" 县·教育局！") == "县教育局"


_SEPARATORS = st.text(alphabet=" 　、，。·-（）()!！\t", max_size=2)


@given(data=st.data())
def test_punctuation_and_spaces_anywhere_do_not_change_the_match(data: st.DataObject) -> None:
    registry = Registry(
        (Unit("edu", "县教育局"), Unit("qs", "青山镇"), Unit("ct", "县城市建设投资有限公司")),
        (),
        (),
        "office",
        "县委巡察办",
    )
    unit = data.draw(st.sampled_from(registry.units))
    noisy = "".join(ch + data.draw(_SEPARATORS) for ch in unit.name)
    assert registry.match_unit(data.draw(_SEPARATORS) + noisy).unit == unit


def test_round_may_not_give_one_unit_to_two_groups() -> None:
    with pytest.raises(RoundConflict) as caught:
        _round(
            GroupAssignment("g1", "第一巡察组", ("edu", "finance")),
            GroupAssignment("g2", "第二巡察组", ("finance",)),
        )
    assert caught.value.unit_id == "finance"
    assert caught.value.groups == ("第一巡察组", "第二巡察组")
    assert "finance" in str(caught.value)
    assert "第一巡察组" in str(caught.value)
    assert "第二巡察组" in str(caught.value)


def test_round_conflict_is_a_registry_error() -> None:
    assert issubclass(RoundConflict, RegistryError)


def test_a_group_listed_twice_for_one_unit_is_no_conflict() -> None:
    a = GroupAssignment("g1", "第一巡察组", ("edu",))
    assert _round(a, a).assignment_for("edu") == a


def test_overlapping_rounds_may_not_share_a_unit() -> None:
    first = _round(GroupAssignment("g1", "第一巡察组", ("edu",)))
    second = _round(
        GroupAssignment("g2", "第二巡察组", ("edu",)),
        start=first.end,  # one shared day is enough
        id="r2",
        name="第一轮专项巡察",
        kind="special",
    )
    with pytest.raises(RoundConflict) as caught:
        Registry((Unit("edu", "县教育局"),), (first, second), (), "office", "县委巡察办")
    assert caught.value.round_names == ("第一轮巡察", "第一轮专项巡察")


def test_consecutive_rounds_may_share_a_unit() -> None:
    first = _round(GroupAssignment("g1", "第一巡察组", ("edu",)))
    second = replace(first, id="r2", start=first.end + timedelta(1), end=first.end + timedelta(9))
    registry = Registry((Unit("edu", "县教育局"),), (first, second), (), "office", "县委巡察办")
    assert registry.inspecting_group("edu", second.start) == (second, second.assignments[0])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "普通"}, "常规或专项"),
        ({"start": D + timedelta(30)}, "开始日期晚于结束日期"),
    ],
)
def test_round_rejects_bad_kind_and_dates(changes: dict[str, Any], message: str) -> None:
    valid = _round(GroupAssignment("g1", "第一巡察组", ("edu",)))
    with pytest.raises(RegistryError, match=message):
        replace(valid, **changes)


def test_registry_rejects_unknown_units_and_duplicate_ids() -> None:
    valid = _round(GroupAssignment("g1", "第一巡察组", ("edu", "ghost")))
    with pytest.raises(RegistryError, match="未登记的单位：ghost"):
        Registry((Unit("edu", "县教育局"),), (valid,), (), "office", "县委巡察办")
    with pytest.raises(RegistryError, match="单位编号重复：edu"):
        Registry((Unit("edu", "县教育局"), Unit("edu", "县教体局")), (), (), "o", "县委巡察办")


def test_round_dates_are_inclusive(demo_county: Registry) -> None:
    (round_,) = demo_county.rounds
    for day in (round_.start, round_.end):
        found = demo_county.inspecting_group("edu", day)
        assert found is not None
        assert found[1].group_name == "第一巡察组"
    for day in (round_.start - timedelta(1), round_.end + timedelta(1)):
        assert demo_county.inspecting_group("edu", day) is None
        assert demo_county.active_rounds(day) == ()


def test_demo_county_matches_spec(demo_county: Registry, demo_today: date) -> None:
    (round_,) = demo_county.rounds
    assert (round_.start, round_.end) == (
        demo_today - timedelta(10),
        demo_today + timedelta(20),
    )
    covered = {
        demo_county.unit(u).name: a.group_name  # type: ignore[union-attr]
        for a in round_.assignments
        for u in a.unit_ids
    }
    assert covered == {
        "县教育局": "第一巡察组",
        "县自然资源局": "第二巡察组",
        "青山镇": "第三巡察组",
        "县城市建设投资有限公司": "第四巡察组",
        "县人民医院": "第五巡察组",
    }
    assert demo_county.inspecting_group("finance", demo_today) is None


def test_recused_users_are_those_of_the_unit(demo_county: Registry) -> None:
    registry = replace(
        demo_county,
        recusals=(Recusal("group1", "edu"), Recusal("xcb", "edu"), Recusal("group2", "finance")),
    )
    assert registry.recused_users("edu") == {"group1", "xcb"}
    assert registry.recused_users("hekou") == frozenset()


def test_empty_registry_knows_only_the_office() -> None:
    registry = Registry.empty()
    assert registry.office_name == "县委巡察办"
    assert registry.office_body_id
    assert registry.match_unit("县教育局").unit is None
    assert registry.members("anything") == ()


def test_registry_is_read_only(demo_county: Registry) -> None:
    with pytest.raises(FrozenInstanceError):
        demo_county.units = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        demo_county.group_members["group-1"] = ("intruder",)  # type: ignore[index]
