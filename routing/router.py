"""Where a lead goes (第十九条) and who handles it (rounds, 回避, 第二十五条).

:func:`decide` is pure: the classification and the registry come in, a
:class:`Decision` with a Chinese explanation of every rule that fired comes out.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, cast

from routing.classification import Classification
from routing.registry import Registry, Unit, UnitMatch
from routing.taxonomy import DESTINATION_BY_PROBLEM_TYPE, Destination, Discipline, ProblemType


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingFacts:
    """What a report says about itself, and the registry as of the day it arrived.

    Keyword-only: seven fields are too many to pass by position safely.
    """

    text: str
    accused_name: str | None = None
    accused_unit: str | None = None
    accused_position: str | None = None
    category_hint: Discipline | None = None
    received_on: date
    registry: Registry = field(default_factory=Registry.empty)


@dataclass(frozen=True, slots=True)
class Decision:
    """The route of one lead; ``explanation`` is shown to staff, in order."""

    categories: tuple[Discipline, ...]
    primary: Discipline | None
    problem_type: ProblemType
    destination: Destination
    unit_id: str | None
    assignee_body_id: str
    assignee_name: str
    excluded_user_ids: frozenset[str]
    explanation: tuple[str, ...]
    round_id: str | None = None


class Classifier(Protocol):
    def __call__(
        self,
        text: str,
        *,
        position: str | None = None,
        unit: str | None = None,
        hint: Discipline | None = None,
    ) -> Classification: ...


def decide(facts: RoutingFacts, classification: Classification) -> Decision:
    """Route a classified report: destination by problem type, assignee by round.

    The reporter's ``category_hint`` is only recorded here; the classifier may
    use it to break ties (it receives it in :func:`decide_report`), but it never
    changes the problem type. ``excluded_user_ids`` holds every user recused
    from the matched unit, not only the assignee's members, so that a case
    stays hidden from them whichever body reads it later (SPEC §4).
    """
    registry = facts.registry
    problem_type = classification.problem_type
    destination = DESTINATION_BY_PROBLEM_TYPE[problem_type]
    explanation = list(classification.explanation)
    if facts.category_hint is not None:
        explanation.append(_hint_sentence(facts.category_hint, classification))

    match = _match_accused_unit(facts)
    unit = match.unit
    explanation.append(match.explanation)
    if problem_type is not ProblemType.INSPECTOR_MISCONDUCT:
        explanation.append(_destination_sentence(problem_type, destination, unit))

    excluded = registry.recused_users(unit.id) if unit else frozenset[str]()
    assignee_id, assignee_name, round_id, reason = _assignee(facts, problem_type, unit, excluded)
    explanation.append(reason)

    if recused_here := excluded & set(registry.members(assignee_id)):
        explanation.append(f"{assignee_name}{len(recused_here)}名成员因回避不得查看")
    if unit and (others := excluded - recused_here):
        explanation.append(f"另有{len(others)}名人员因回避“{unit.name}”不得查看")

    return Decision(
        categories=classification.categories,
        primary=classification.primary,
        problem_type=problem_type,
        destination=destination,
        unit_id=unit.id if unit else None,
        assignee_body_id=assignee_id,
        assignee_name=assignee_name,
        excluded_user_ids=excluded,
        explanation=tuple(explanation),
        round_id=round_id,
    )


def _assignee(
    facts: RoutingFacts, problem_type: ProblemType, unit: Unit | None, excluded: frozenset[str]
) -> tuple[str, str, str | None, str]:
    """Body id, body name, round id and the sentence saying why (SPEC §4)."""
    registry = facts.registry
    office = (registry.office_body_id, registry.office_name, None)
    if problem_type is ProblemType.INSPECTOR_MISCONDUCT:
        # A complaint about inspectors must not reach the inspectors' own group,
        # even when the unit they inspect is named: it goes to the office only.
        return *office, (
            f"反映巡察人员问题一律由{registry.office_name}办理（第二十五条、第二十七条），"
            "不交任何巡察组"
        )
    if unit is None:
        return *office, f"未匹配到在巡单位，由{registry.office_name}处理"
    found = registry.inspecting_group(unit.id, facts.received_on)
    if found is None:
        return *office, (
            f"“{unit.name}”不在{facts.received_on.isoformat()}进行中的巡察范围内，"
            f"由{registry.office_name}处理"
        )
    round_, group = found
    members = registry.members(group.group_body_id)
    if members and excluded.issuperset(members):
        # Nobody in the group may read it, so the office has to reassign it.
        return *office, (
            f"{group.group_name}全体成员均须回避“{unit.name}”，由{registry.office_name}处理"
        )
    return (
        group.group_body_id,
        group.group_name,
        round_.id,
        f"被反映单位“{unit.name}”由{round_.name}{group.group_name}负责"
        f"（{round_.start.isoformat()}至{round_.end.isoformat()}）",
    )


def decide_report(facts: RoutingFacts, classifier: Classifier | None = None) -> Decision:
    """Classify the report (``routing.classify.classify`` unless given) and route it."""
    classify = classifier or _default_classifier()
    classification = classify(
        facts.text,
        position=facts.accused_position,
        unit=facts.accused_unit,
        hint=facts.category_hint,
    )
    return decide(facts, classification)


def _default_classifier() -> Classifier:
    # Imported on first use so the router does not depend on the classifier's
    # data files being loaded when only decide() is needed.
    module = importlib.import_module("routing.classify")
    return cast(Callable[..., Classification], module.classify)


def _match_accused_unit(facts: RoutingFacts) -> UnitMatch:
    """Match the accused unit field; only when it is blank, look in position, then text."""
    registry = facts.registry
    if facts.accused_unit and facts.accused_unit.strip():
        return registry.match_unit(facts.accused_unit)
    for source, label in ((facts.accused_position, "职务"), (facts.text, "举报内容")):
        found = registry.match_unit(source)
        if found.unit is not None or found.candidates:
            return UnitMatch(
                found.unit,
                found.kind,
                found.candidates,
                f"未填写被反映单位，据{label}：{found.explanation}",
            )
    return registry.match_unit(None)


def _hint_sentence(hint: Discipline, classification: Classification) -> str:
    if hint is classification.primary:
        agreement = "与自动分类一致"
    elif hint in classification.categories:
        agreement = "为自动分类的次要类别"
    else:
        agreement = "与自动分类不同"
    return f"举报人选择的类别为{hint.label}，{agreement}，仅供参考，不改变问题类型"


def _destination_sentence(
    problem_type: ProblemType, destination: Destination, unit: Unit | None
) -> str:
    target = destination.label
    if destination is Destination.UNIT_PARTY_ORG and unit is not None:
        target = f"{unit.name}党组织"
    return f"按第十九条，{problem_type.label}移交{target}"
