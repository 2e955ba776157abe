"""The policy module alone (pure): roles, enrolment, per-case facts."""

from __future__ import annotations

import pytest

from admin.policy import Actor, CaseFacts, Rule, allows, case_permissions
from core.county import BodyKind, Role

GROUP, OFFICE, COMMISSION = "group-body", "office-body", "commission-body"
CASE = CaseFacts(assignee_body_id=GROUP, status="triaged")
TRANSFERRED = CaseFacts(
    assignee_body_id=GROUP, status="transferred", transfer_destination_body_id=COMMISSION
)

admin = Actor("a", Role.ADMIN, frozenset({OFFICE}), frozenset({BodyKind.OFFICE}))
member = Actor("m", Role.MEMBER, frozenset({GROUP}), frozenset({BodyKind.INSPECTION_GROUP}))
receiver = Actor(
    "r", Role.MEMBER, frozenset({COMMISSION}), frozenset({BodyKind.DISCIPLINE_COMMISSION})
)
leader = Actor("l", Role.LEADER, frozenset({"lg"}), frozenset({BodyKind.LEADING_GROUP}))
operator = Actor("o", Role.OPERATOR)


def test_anonymous_only_public() -> None:
    assert allows(None, Rule.PUBLIC)
    assert not any(allows(None, rule) for rule in Rule if rule is not Rule.PUBLIC)


def test_an_unenrolled_user_may_only_enrol_and_sign_out() -> None:
    pending = Actor("p", Role.ADMIN, frozenset({OFFICE}), frozenset({BodyKind.OFFICE}), False)
    assert allows(pending, Rule.SIGNED_IN)
    for rule in Rule:
        if rule not in (Rule.PUBLIC, Rule.SIGNED_IN):
            assert not allows(pending, rule), rule


def test_operator_enters_reports_and_reads_nothing() -> None:
    assert allows(operator, Rule.ENTER_REPORT)
    for rule in (Rule.LIST_CASES, Rule.READ_CASE, Rule.VIEW_AUDIT, Rule.OVERSIGHT):
        assert not allows(operator, rule)
    assert case_permissions(operator, CASE).granted == frozenset()


@pytest.mark.parametrize(
    ("actor", "facts", "granted"),
    [
        (
            admin,
            CASE,
            {
                Rule.READ_CASE,
                Rule.TRIAGE,
                Rule.REPLY,
                Rule.NOTE,
                Rule.PROPOSE_TRANSFER,
                Rule.DECIDE_TRANSFER,
                Rule.CLOSE,
            },
        ),
        (
            member,
            CASE,
            {Rule.READ_CASE, Rule.TRIAGE, Rule.REPLY, Rule.NOTE, Rule.PROPOSE_TRANSFER, Rule.CLOSE},
        ),
        (receiver, CASE, {Rule.READ_CASE, Rule.NOTE}),
        (receiver, TRANSFERRED, {Rule.READ_CASE, Rule.NOTE, Rule.REPLY, Rule.FEEDBACK}),
        (leader, CASE, {Rule.READ_CASE}),
    ],
)
def test_case_permissions(actor: Actor, facts: CaseFacts, granted: set[Rule]) -> None:
    """The role side only: reading still needs a key and no 回避 (core.access)."""
    assert case_permissions(actor, facts).granted == frozenset(granted)


def test_only_the_office_decides_transfers_and_the_office_gives_no_feedback() -> None:
    assert allows(admin, Rule.DECIDE_TRANSFER, TRANSFERRED)
    assert not allows(member, Rule.DECIDE_TRANSFER, CASE)
    assert not allows(admin, Rule.FEEDBACK, TRANSFERRED)
    office_member = Actor("x", Role.MEMBER, frozenset({OFFICE}), frozenset({BodyKind.OFFICE}))
    assert allows(office_member, Rule.DECIDE_TRANSFER, CASE)  # a member of 巡察办 counts too
