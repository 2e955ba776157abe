"""The 六项纪律 classifier as a 巡察组 member sees it: categories, problem type, reasons."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from routing import classify
from routing.classify import Classifier
from routing.lexicon import load_lexicon
from routing.reading import read_report
from routing.taxonomy import DESTINATION_BY_PROBLEM_TYPE, Destination, Discipline, ProblemType
from routing.textnorm import normalise

CASES_FILE = Path(__file__).resolve().parents[1] / "data" / "corpus" / "cases_classifier.jsonl"
CASES = [json.loads(line) for line in CASES_FILE.read_text(encoding="utf-8").splitlines()]


def _run(case: dict[str, Any], text: str | None = None) -> Any:
    accused = case["accused"] or {}
    return classify(
        text if text is not None else case["text"],
        position=accused.get("position"),
        unit=accused.get("unit"),
    )


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_edge_cases(case: dict[str, Any]) -> None:
    expect = case["expect"]
    result = _run(case)
    assert result.problem_type == ProblemType(expect["problem_type"]), result.explanation
    if "primary" in expect:
        assert result.primary == Discipline(expect["primary"]), result.explanation
    for key in expect.get("includes", []):
        assert Discipline(key) in result.categories, result.explanation
    if "negated" in expect:
        assert any(
            expect["negated"] in line and "否定范围内" in line for line in result.explanation
        ), result.explanation
    if "same_as" in expect:
        other = _run(case, expect["same_as"])
        assert (other.categories, other.problem_type) == (result.categories, result.problem_type)
    assert result.primary == (result.categories[0] if result.categories else None)


@pytest.mark.parametrize(
    ("cue", "text"),
    [
        ("没有", "他没有收受红包"),
        ("并未", "他并未收受红包"),
        ("不存在", "不存在收受红包的问题"),
        ("不是", "不是他收受红包"),
        ("从未", "他从未收受红包"),
        ("没…过", "他没收过红包"),
    ],
)
def test_negated_gift_is_not_counted(cue: str, text: str) -> None:
    reading = read_report(normalise(text), load_lexicon())
    assert Discipline.INTEGRITY not in reading.disciplines
    assert reading.negated, f"{cue} should be reported as a negation"


def test_negation_ends_at_the_clause() -> None:
    reading = read_report(normalise("他没有收红包，但是收了两千块现金"), load_lexicon())
    assert reading.disciplines.get(Discipline.INTEGRITY, 0) > 0
    sentences = [e.sentence for e in reading.evidence]
    assert any("收了" in s for s in sentences)


def test_phrases_with_a_negation_inside_are_not_negations() -> None:
    # “不给办” is itself a complaint (吃拿卡要), not “不” negating what follows.
    reading = read_report(normalise("不给好处就不给办"), load_lexicon())
    assert Discipline.MASS in reading.disciplines
    assert not reading.negated


def test_misconduct_of_an_official_is_a_lead_for_the_discipline_commission() -> None:
    result = classify("镇长收了开发商二十万，把安置房工程给了他", position="镇长")
    assert result.problem_type is ProblemType.VIOLATION_LEAD
    assert result.primary is Discipline.INTEGRITY
    route = DESTINATION_BY_PROBLEM_TYPE[result.problem_type]
    assert route is Destination.COUNTY_DISCIPLINE_COMMISSION


def test_inspector_taking_gifts_goes_to_the_inspection_office() -> None:
    result = classify("巡察组组长在巡察期间接受被巡察单位宴请，还收了两箱茅台", position="组长")
    assert result.problem_type is ProblemType.INSPECTOR_MISCONDUCT
    assert result.primary is Discipline.INTEGRITY
    assert DESTINATION_BY_PROBLEM_TYPE[result.problem_type] is Destination.INSPECTION_OFFICE
    assert any("巡察" in line for line in result.explanation)


def test_a_report_addressed_to_the_inspection_group_is_not_about_inspectors() -> None:
    result = classify("巡察组领导：村主任把村里的集体资金借给他小舅子做生意", position="主任")
    assert result.problem_type is ProblemType.VIOLATION_LEAD


def test_explanation_names_the_matched_terms_and_model_ngrams() -> None:
    result = classify("局长收了老板的购物卡和红包", position="局长")
    assert any("“红包”" in line and "廉洁纪律" in line for line in result.explanation)
    assert any(line.startswith("统计模型权重最高的片段") for line in result.explanation)


@pytest.mark.parametrize("text", ["", "   ", "\n\t　"])
def test_empty_text_is_no_disciplinary_matter(text: str) -> None:
    result = classify(text)
    assert result.categories == ()
    assert result.primary is None
    assert result.problem_type is ProblemType.OTHER
    assert result.explanation


def test_nothing_matched_is_still_a_lead_not_other() -> None:
    # SPEC §4: “other” needs positive evidence; an unclear accusation is not dropped.
    result = classify("请你们查一查这个局长，大家意见很大", position="局长")
    assert result.problem_type is ProblemType.VIOLATION_LEAD
    assert result.primary is not None


def test_hint_decides_only_when_the_text_names_no_behaviour() -> None:
    vague = "请你们查一查这个人"
    assert classify(vague, hint=Discipline.LIFE).primary is Discipline.LIFE
    clear = classify("局长收受工程老板的红包和购物卡", hint=Discipline.LIFE)
    assert clear.primary is Discipline.INTEGRITY


def test_long_letter_is_classified_quickly_and_keeps_every_issue() -> None:
    paragraph = (
        "尊敬的领导：我们是某局的干部职工，现将局长的问题反映如下。"
        "一、局长长期收受下属单位和工程老板的红包礼金，逢年过节更是明目张胆。"
        "二、局长和单位一名女职工关系暧昧，经常一起出入宾馆。"
        "三、局长把反映问题的同志调到偏远岗位，打击报复。"
    )
    letter = paragraph + "以上情况属实，" * 400 + paragraph
    assert len(letter) > 3000
    start = time.perf_counter()
    result = classify(letter, position="局长")
    assert time.perf_counter() - start < 0.5
    assert result.problem_type is ProblemType.VIOLATION_LEAD
    assert {Discipline.INTEGRITY, Discipline.LIFE} <= set(result.categories) | {result.primary}


def test_same_input_same_output() -> None:
    text = "村支书克扣低保金，还在上班时间打麻将"
    first = classify(text, position="村支书")
    fresh = Classifier(load_lexicon(), None)
    assert classify(text, position="村支书") == first
    assert fresh.classify(text, position="村支书") == fresh.classify(text, position="村支书")


def test_lexicon_alone_still_classifies_without_a_model() -> None:
    lexicon_only = Classifier(load_lexicon(), None)
    result = lexicon_only.classify("局长收了老板的红包", position="局长")
    assert result.primary is Discipline.INTEGRITY
    assert result.problem_type is ProblemType.VIOLATION_LEAD
    assert lexicon_only.classify("我家楼上漏水，物业不管").problem_type is ProblemType.OTHER
