"""Train the classifier's n-gram model on every corpus batch and write routing/data/model.json.

    .venv/bin/python tools/train_classifier.py [--corpus DIR] [--out FILE]

Deterministic: the same corpus gives the same file byte for byte
(tests/routing/test_classifier_model.py checks the shipped file against a fresh run).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from routing.model import dump_model_data  # noqa: E402
from routing.training import train_classifier_model  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "corpus"
MODEL = ROOT / "routing" / "data" / "model.json"


def corpus_batches(corpus: Path) -> list[Path]:
    """The corpus batch files, in name order (batch_01 … batch_10)."""
    return sorted(corpus.glob("batch_*.jsonl"))


def read_records(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--out", type=Path, default=MODEL)
    args = parser.parse_args(argv)
    batches = corpus_batches(args.corpus)
    if not batches:
        parser.error(f"no batch_*.jsonl in {args.corpus}")
    grouped = [read_records(batch) for batch in batches]
    records = [record for batch in grouped for record in batch]
    data = train_classifier_model(grouped)
    args.out.write_text(dump_model_data(data), encoding="utf-8")
    features = data["features"]
    size = len(features) if isinstance(features, dict) else 0
    names = ", ".join(b.name for b in batches)
    print(f"trained on {len(records)} reports ({names}); {size} n-grams → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
