"""Routing: 六项纪律 taxonomy, 第十九条 destinations, rounds, 回避 and deadlines.

Pure functions over frozen dataclasses; no I/O.
"""

from routing.classification import Classification
from routing.classify import classify
from routing.deadlines import (
    Deadline,
    DeadlineStatus,
    WorkCalendar,
    add_calendar_month,
    add_working_days,
    days_left,
    deadline_status,
    rectification_plan_due,
    rectification_report_due,
    round_report_due,
    transfer_feedback_due,
)
from routing.registry import (
    GroupAssignment,
    Recusal,
    Registry,
    RegistryError,
    Round,
    RoundConflict,
    Unit,
    UnitMatch,
)
from routing.router import Decision, RoutingFacts, decide, decide_report
from routing.taxonomy import Destination, Discipline, ProblemType

__all__ = [
    "Classification",
    "Deadline",
    "DeadlineStatus",
    "Decision",
    "Destination",
    "Discipline",
    "GroupAssignment",
    "ProblemType",
    "Recusal",
    "Registry",
    "RegistryError",
    "Round",
    "RoundConflict",
    "RoutingFacts",
    "Unit",
    "UnitMatch",
    "WorkCalendar",
    "add_calendar_month",
    "add_working_days",
    "classify",
    "days_left",
    "deadline_status",
    "decide",
    "decide_report",
    "rectification_plan_due",
    "rectification_report_due",
    "round_report_due",
    "transfer_feedback_due",
]
