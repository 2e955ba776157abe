"""Train the classifier on the corpus and the development set and write routing/data/model.json.

    .venv/bin/python tools/train_classifier.py [--corpus DIR] [--dev FILE] [--out FILE]

The training batches are every corpus batch (tests/data/corpus/batch_*.jsonl) and the
development set (tests/data/dev/dev_reports.jsonl) dealt into DEV_FOLDS folds, each fold a batch
of its own. Deterministic: the same input gives the same file byte for byte
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
from routing.training import deal_folds, train_classifier_model  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "corpus"
DEV = ROOT / "tests" / "data" / "dev" / "dev_reports.jsonl"
MODEL = ROOT / "routing" / "data" / "model.json"


def corpus_batches(corpus: Path) -> list[Path]:
    """The corpus batch files, in name order (batch_01 … batch_10)."""
    return sorted(corpus.glob("batch_*.jsonl"))


def read_records(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def training_batches(corpus: Path, dev: Path | None) -> dict[str, list[dict[str, object]]]:
    """Named training batches: the corpus batches, then the dev folds (when the file exists)."""
    batches = {path.name: read_records(path) for path in corpus_batches(corpus)}
    if dev is not None and dev.is_file():
        for i, fold in enumerate(deal_folds(read_records(dev))):
            batches[f"{dev.name}#{i + 1}"] = [dict(r) for r in fold]
    return batches


def is_dev_fold(name: str) -> bool:
    return "#" in name


def train_named(batches: dict[str, list[dict[str, object]]]) -> dict[str, object]:
    """Model data for named batches: corpus batches as such, dev folds weighted as dev."""
    corpus = [rs for name, rs in batches.items() if not is_dev_fold(name)]
    dev = [rs for name, rs in batches.items() if is_dev_fold(name)]
    return train_classifier_model(corpus, dev)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--dev", type=Path, default=DEV)
    parser.add_argument("--out", type=Path, default=MODEL)
    args = parser.parse_args(argv)
    if not corpus_batches(args.corpus):
        parser.error(f"no batch_*.jsonl in {args.corpus}")
    batches = training_batches(args.corpus, args.dev)
    data = train_named(batches)
    args.out.write_text(dump_model_data(data), encoding="utf-8")
    features = data["features"]
    size = len(features) if isinstance(features, dict) else 0
    count = sum(len(b) for b in batches.values())
    names = ", ".join(batches)
    print(f"trained on {count} reports ({names}); {size} n-grams → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
