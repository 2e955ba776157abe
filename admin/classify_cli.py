"""`xuncha classify`: JSON lines in, routing decisions out (SPEC §6). No database.

A bad line does not stop the stream: it gets an ``error`` object in its
place, a note on stderr, and the command exits 1 at the end. Long inputs
are classified in chunks on one process per core; output keeps input order.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from routing import Discipline, RoutingFacts, classify, decide_report

# Lines per unit of work: large enough that process hand-off costs little per report.
CHUNK_LINES = 1000


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


@dataclass(frozen=True)
class Chunk:
    first_line: int
    lines: list[str]
    today: date


@dataclass(frozen=True)
class ChunkResult:
    outputs: list[str]
    notes: list[str]


def classify_chunk(chunk: Chunk) -> ChunkResult:
    outputs, notes = [], []
    for number, line in enumerate(chunk.lines, start=chunk.first_line):
        if not line.strip():
            continue
        record: Any = None
        try:
            record = json.loads(line)
            result = decide_line(record, chunk.today)
        except (json.JSONDecodeError, LineError) as exc:
            reason = "invalid JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
            ident = record.get("id") if isinstance(record, dict) else None
            result = {"id": ident, "error": {"code": "invalid_line", "message": reason}}
            notes.append(f"xuncha classify: line {number}: {reason}")
        outputs.append(json.dumps(result, ensure_ascii=False) + "\n")
    return ChunkResult(outputs, notes)


def _chunks(source: IO[str], today: date) -> Iterator[Chunk]:
    number = 1
    while lines := list(itertools.islice(source, CHUNK_LINES)):
        yield Chunk(number, lines, today)
        number += len(lines)


def _results(chunks: Iterator[Chunk], workers: int) -> Iterator[ChunkResult]:
    """Chunk results in input order; with more than one chunk, on ``workers`` processes.

    At most two chunks per worker are in flight, so memory stays bounded on long inputs.
    """
    first = next(chunks, None)
    second = next(chunks, None)
    head = [c for c in (first, second) if c is not None]
    if second is None or workers < 2:
        yield from map(classify_chunk, itertools.chain(head, chunks))
        return
    # Load the model once here; forked workers share it instead of each reading it again.
    classify("预热")
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque[Future[ChunkResult]] = deque()
        for chunk in itertools.chain(head, chunks):
            pending.append(pool.submit(classify_chunk, chunk))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def classify_stream(
    source: IO[str], sink: IO[str], errors: IO[str] = sys.stderr, *, workers: int | None = None
) -> int:
    failed = 0
    for result in _results(_chunks(source, date.today()), workers or os.cpu_count() or 1):
        sink.writelines(result.outputs)
        for note in result.notes:
            print(note, file=errors)
        failed += len(result.notes)
    sink.flush()
    return 1 if failed else 0
