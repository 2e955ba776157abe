"""`xuncha classify`: JSON lines in, SPEC §6 decisions out, in input order, bad lines marked."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from admin.classify_cli import CHUNK_LINES, classify_stream

REPORTS = [
    {"id": "a", "text": "村支书克扣低保金，还把低保名额给了自己亲戚。"},
    {
        "id": "b",
        "text": "巡察组的副组长收了被巡察单位送的购物卡。",
        "accused": {"name": "张某", "unit": "县委第一巡察组", "position": "副组长"},
    },
    {"id": "c", "text": "邻居装修太吵，物业不管。"},
]
FIELDS = {"id", "categories", "primary", "problem_type", "destination", "explanation"}


def _run(lines: list[str], workers: int | None = None) -> tuple[int, list[dict[str, object]], str]:
    sink, errors = io.StringIO(), io.StringIO()
    code = classify_stream(io.StringIO("".join(lines)), sink, errors, workers=workers)
    return code, [json.loads(line) for line in sink.getvalue().splitlines()], errors.getvalue()


def test_each_line_gets_the_spec_fields() -> None:
    code, out, errors = _run([json.dumps(r, ensure_ascii=False) + "\n" for r in REPORTS])
    assert code == 0
    assert errors == ""
    assert [o["id"] for o in out] == ["a", "b", "c"]
    assert all(set(o) == FIELDS for o in out)
    assert out[1]["problem_type"] == "inspector_misconduct"
    assert out[1]["destination"] == "inspection_office"
    assert out[2]["problem_type"] == "other"
    assert out[2]["categories"] == []


def test_bad_lines_are_marked_and_the_rest_goes_on() -> None:
    lines = [
        "not json\n",
        "\n",
        json.dumps({"id": "x", "text": 5}) + "\n",
        json.dumps(REPORTS[0]) + "\n",
    ]
    code, out, errors = _run(lines)
    assert code == 1
    assert [o.get("error", {}).get("code") for o in out] == ["invalid_line", "invalid_line", None]
    assert out[1]["id"] == "x"
    assert out[2]["id"] == "a"
    assert "line 1" in errors
    assert "line 3" in errors


def test_long_input_on_several_processes_keeps_order_and_results() -> None:
    count = CHUNK_LINES * 2 + 17
    lines = [
        json.dumps({**REPORTS[n % 3], "id": str(n)}, ensure_ascii=False) + "\n"
        for n in range(count)
    ]
    code, parallel, _ = _run(lines, workers=2)
    assert code == 0
    assert [o["id"] for o in parallel] == [str(n) for n in range(count)]
    _, serial, _ = _run(lines, workers=1)
    assert parallel == serial


def test_the_command_reads_stdin() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "admin.cli", "classify"],
        input=json.dumps(REPORTS[0], ensure_ascii=False) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (decision,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert decision["id"] == "a"
    assert decision["destination"] == "county_discipline_commission"
