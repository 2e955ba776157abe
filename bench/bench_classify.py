"""Classifier throughput on a realistic mix of reports, against the cost of JSON I/O.

    .venv/bin/python bench/bench_classify.py [--count N]

The mix is every corpus and development-set report (texts from a few dozen characters to long
letters), repeated to at least N reports. The baseline is decoding and encoding the same JSON
lines, the I/O that ``xuncha classify`` cannot avoid; the ratio says how many times more the
classifier costs than that I/O.

It then times the command itself, ``xuncha classify`` in a child process with the lines on
stdin (interpreter start and model load included), which spreads chunks over the cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from routing.classify import default_classifier  # noqa: E402

SOURCES = [
    *sorted((ROOT / "tests" / "data" / "corpus").glob("batch_*.jsonl")),
    ROOT / "tests" / "data" / "dev" / "dev_reports.jsonl",
]


def load_lines(count: int) -> list[str]:
    lines = [
        line
        for path in SOURCES
        if path.is_file()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if not lines:
        raise SystemExit("no corpus or dev reports found to benchmark with")
    repeats = -(-count // len(lines))
    return (lines * repeats)[: max(count, len(lines))]


def run_baseline(lines: list[str]) -> float:
    start = time.perf_counter()
    for line in lines:
        record = json.loads(line)
        json.dumps({"id": record["id"], "text": record["text"]}, ensure_ascii=False)
    return time.perf_counter() - start


def run_classifier(records: list[dict[str, object]]) -> float:
    classifier = default_classifier()
    start = time.perf_counter()
    for record in records:
        accused = record.get("accused")
        accused = accused if isinstance(accused, dict) else {}
        classifier.classify(
            str(record["text"]), position=accused.get("position"), unit=accused.get("unit")
        )
    return time.perf_counter() - start


def run_command(lines: list[str]) -> float:
    """Wall time of `xuncha classify` over ``lines``, start-up included."""
    payload = "".join(line + "\n" for line in lines)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "admin.cli", "classify"],
        input=payload,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or done.stdout.count("\n") != len(lines):
        raise SystemExit(f"xuncha classify failed: {done.stderr.strip()[:500]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args(argv)
    lines = load_lines(args.count)
    records = [json.loads(line) for line in lines]
    chars = sum(len(str(r["text"])) for r in records) / len(records)
    default_classifier().classify("预热")  # load the lexicon and model outside the timing
    baseline = run_baseline(lines)
    elapsed = run_classifier(records)
    rate = len(records) / elapsed
    print(f"reports: {len(records)} (mean {chars:.0f} characters)")
    print(f"classify: {rate:,.0f} reports/s ({elapsed * 1e6 / len(records):.0f} µs each)")
    print(f"JSON decode+encode baseline: {len(lines) / baseline:,.0f} lines/s")
    print(f"classify costs {elapsed / baseline:.1f}x the JSON baseline")
    print("in-process, one core:", "≥ 5,000/s" if rate >= 5000 else "below 5,000/s")
    # A batch run of the command: 5x the lines, so the ~1 s start-up (interpreter, model) is
    # measured too but does not dominate.
    batch = lines * 5
    command = len(batch) / run_command(batch)
    print(
        f"xuncha classify, {len(batch)} lines (all cores, start-up included): "
        f"{command:,.0f} reports/s"
    )
    print(f"command vs in-process one core: {command / rate:.2f}x")
    print("target ≥ 5,000 reports/s for xuncha classify:", "met" if command >= 5000 else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
