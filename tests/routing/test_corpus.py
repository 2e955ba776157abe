"""The labelled training data agree with themselves: a mislabelled line would train the model
towards a route that 第十九条 does not give, so every line is checked before it can."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.cases import Channel
from routing.taxonomy import DESTINATION_BY_PROBLEM_TYPE, Discipline, ProblemType

DATA = Path(__file__).resolve().parents[1] / "data"
FILES = [*sorted((DATA / "corpus").glob("batch_*.jsonl")), DATA / "dev" / "dev_reports.jsonl"]
FIELDS = {"id", "channel", "text", "accused", "categories", "primary", "problem_type"}
GOOD: dict[str, Any] = {  # a consistent label, for the checks' own tests
    "id": "T-1",
    "channel": "web",
    "text": "村支书收了低保户的钱",
    "accused": None,
    "categories": ["integrity", "mass"],
    "primary": "integrity",
    "problem_type": "violation_lead",
    "expected_route": "county_discipline_commission",
}


def _records(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def label_problems(record: dict[str, Any]) -> list[str]:
    """What is wrong with one labelled report; empty when nothing is."""
    problems = [f"missing {name}" for name in sorted(FIELDS - record.keys())]
    if problems:
        return problems
    if record["channel"] not in set(Channel):
        problems.append(f"channel {record['channel']!r}")
    if not str(record["text"]).strip():
        problems.append("empty text")
    problem_type = ProblemType(record["problem_type"])
    route = DESTINATION_BY_PROBLEM_TYPE[problem_type].value
    if record.get("expected_route", route) != route:
        problems.append(f"route {record['expected_route']} for {problem_type}")
    categories = [Discipline(key) for key in record["categories"]]
    if len(set(categories)) != len(categories):
        problems.append("a discipline listed twice")
    if problem_type is ProblemType.OTHER:
        if record["primary"] is not None or categories:
            problems.append("a non-disciplinary report with disciplines")
    elif not categories or record["primary"] != categories[0]:
        problems.append("primary is not the first category")
    return problems


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_label_is_consistent(path: Path) -> None:
    records = _records(path)
    assert records
    found = [(r.get("id", "?"), label_problems(r)) for r in records]
    assert [(key, problems) for key, problems in found if problems] == []


def test_ids_are_unique_across_files() -> None:
    ids = [r["id"] for path in FILES for r in _records(path)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"expected_route": "organization_department"}, "route"),
        ({"primary": "work"}, "primary is not the first category"),
        ({"categories": ["integrity", "integrity"]}, "twice"),
        ({"problem_type": "other"}, "non-disciplinary"),
        ({"channel": "fax"}, "channel"),
        ({"text": "  "}, "empty text"),
    ],
)
def test_a_wrong_label_is_named(change: dict[str, Any], problem: str) -> None:
    assert label_problems(GOOD) == []
    problems = label_problems({**GOOD, **change})
    assert any(problem in p for p in problems), problems


def test_a_missing_field_is_named() -> None:
    record = {key: value for key, value in GOOD.items() if key != "problem_type"}
    assert label_problems(record) == ["missing problem_type"]
