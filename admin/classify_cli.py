"""`xuncha classify`: JSON lines in, routing decisions out (SPEC §6). No database.

A bad line does not stop the stream: it gets an ``error`` object in its
place, a note on stderr, and the command exits 1 at the end.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import IO, Any

from routing import Discipline, RoutingFacts, decide_report


class LineError(ValueError):
    pass


def _optional_text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise LineError(f"{field} must be a string")
    return value


def decide_line(record: Any, today: date) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise LineError("each line must be a JSON object")
    text = record.get("text")
    if not isinstance(text, str):
        raise LineError("text must be a string")
    accused = record.get("accused") or {}
    if not isinstance(accused, dict):
        raise LineError("accused must be an object")
    hint_key = record.get("category_hint")
    try:
        hint = Discipline(hint_key) if hint_key is not None else None
    except ValueError:
        raise LineError(f"unknown category_hint {hint_key!r}") from None
    decision = decide_report(
        RoutingFacts(
            text=text,
            accused_name=_optional_text(accused.get("name"), "accused.name"),
            accused_unit=_optional_text(accused.get("unit"), "accused.unit"),
            accused_position=_optional_text(accused.get("position"), "accused.position"),
            category_hint=hint,
            received_on=today,
        )
    )
    return {
        "id": record.get("id"),
        "categories": [c.value for c in decision.categories],
        "primary": decision.primary.value if decision.primary else None,
        "problem_type": decision.problem_type.value,
        "destination": decision.destination.value,
        "explanation": list(decision.explanation),
    }


def classify_stream(source: IO[str], sink: IO[str], errors: IO[str] = sys.stderr) -> int:
    today = date.today()
    failed = 0
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        record: Any = None
        try:
            record = json.loads(line)
            result = decide_line(record, today)
        except (json.JSONDecodeError, LineError) as exc:
            failed += 1
            reason = "invalid JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
            ident = record.get("id") if isinstance(record, dict) else None
            result = {"id": ident, "error": {"code": "invalid_line", "message": reason}}
            print(f"xuncha classify: line {number}: {reason}", file=errors)
        sink.write(json.dumps(result, ensure_ascii=False) + "\n")
    sink.flush()
    return 1 if failed else 0
