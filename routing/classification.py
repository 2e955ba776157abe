"""The classifier's verdict on a report, shared by the classifier and the router."""

from __future__ import annotations

from dataclasses import dataclass

from routing.taxonomy import Discipline, ProblemType


@dataclass(frozen=True, slots=True)
class Classification:
    """What a report is about.

    ``categories`` are the disciplines (六项纪律) the text touches, most
    relevant first; ``primary`` is the first of them, or ``None`` when none
    applies. ``problem_type`` alone decides the destination (第十九条).
    ``explanation`` holds short Chinese sentences naming the rules that fired.
    """

    categories: tuple[Discipline, ...]
    primary: Discipline | None
    problem_type: ProblemType
    explanation: tuple[str, ...]
