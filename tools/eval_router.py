"""Score the classifier on reports it was not trained on.

    .venv/bin/python tools/eval_router.py [--dev PATH] [--extra PATH ...] [--errors] [--jobs N]

The training data are the corpus batches (tests/data/corpus/batch_*.jsonl) and the development
set (tests/data/dev/dev_reports.jsonl) dealt into DEV_FOLDS fixed folds. Two honest views:

1. leave one batch out: every corpus batch scored by a model trained on the other corpus
   batches and the whole development set;
2. development set k-fold: every dev fold scored by a model trained on the whole corpus and the
   other dev folds — never by a model that saw the fold;
3. any --extra file of the same schema, with the model trained on everything (as shipped).

The lexicon is the same in every run: it was written from the 条例, not from these reports.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from routing.classify import Classifier  # noqa: E402
from routing.lexicon import load_lexicon  # noqa: E402
from routing.taxonomy import DESTINATION_BY_PROBLEM_TYPE, Destination, ProblemType  # noqa: E402
from routing.training import classifier_from  # noqa: E402
from tools.train_classifier import (  # noqa: E402
    CORPUS,
    DEV,
    is_dev_fold,
    read_records,
    train_named,
    training_batches,
)

NONE = "none"
Records = list[dict[str, object]]


@dataclass(frozen=True)
class Outcome:
    record: dict[str, object]
    primary: str
    problem_type: str
    route: str

    @property
    def expected_primary(self) -> str:
        return str(self.record.get("primary") or NONE)


def held_out_run(task: tuple[dict[str, Records], Records]) -> list[Outcome]:
    """Train on the given batches, predict the held-out records (one unit of parallel work)."""
    training, held_out = task
    return predict(classifier_from(train_named(training)), held_out)


def predict(classifier: Classifier, records: Sequence[dict[str, object]]) -> list[Outcome]:
    outcomes = []
    for record in records:
        accused = record.get("accused")
        if not isinstance(accused, dict):
            accused = {}
        result = classifier.classify(
            str(record["text"]), position=accused.get("position"), unit=accused.get("unit")
        )
        route = DESTINATION_BY_PROBLEM_TYPE[result.problem_type].value
        primary = result.primary.value if result.primary else NONE
        outcomes.append(Outcome(record, primary, result.problem_type.value, route))
    return outcomes


def per_class(pairs: Sequence[tuple[str, str]]) -> dict[str, tuple[float, float, float, int]]:
    classes = sorted({gold for gold, _ in pairs} | {pred for _, pred in pairs})
    table = {}
    for cls in classes:
        tp = sum(1 for g, p in pairs if g == cls and p == cls)
        fp = sum(1 for g, p in pairs if g != cls and p == cls)
        fn = sum(1 for g, p in pairs if g == cls and p != cls)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[cls] = (precision, recall, f1, tp + fn)
    return table


def macro_f1(pairs: Sequence[tuple[str, str]]) -> float:
    table = per_class(pairs)
    present = [f1 for _, _, f1, support in table.values() if support]
    return sum(present) / len(present) if present else 0.0


def summary(outcomes: Sequence[Outcome]) -> tuple[float, float, float, int]:
    route = sum(o.route == o.record["expected_route"] for o in outcomes) / len(outcomes)
    primary = macro_f1([(o.expected_primary, o.primary) for o in outcomes])
    inspector = [
        o for o in outcomes if o.record["problem_type"] == ProblemType.INSPECTOR_MISCONDUCT
    ]
    recall = (
        sum(o.problem_type == ProblemType.INSPECTOR_MISCONDUCT for o in inspector) / len(inspector)
        if inspector
        else float("nan")
    )
    return route, primary, recall, len(outcomes)


def print_summary_row(name: str, outcomes: Sequence[Outcome]) -> None:
    route, primary, recall, n = summary(outcomes)
    print(f"{name:<22} {n:>4}  {route:>6.3f}  {primary:>8.3f}  {recall:>9.3f}")


def print_details(title: str, outcomes: Sequence[Outcome]) -> None:
    print(f"\n== {title} ==")
    for label, pairs in (
        ("primary discipline", [(o.expected_primary, o.primary) for o in outcomes]),
        ("problem type", [(str(o.record["problem_type"]), o.problem_type) for o in outcomes]),
    ):
        print(f"{label:<22} {'P':>6} {'R':>6} {'F1':>6} {'n':>4}")
        for cls, (p, r, f1, support) in per_class(pairs).items():
            print(f"  {cls:<20} {p:>6.3f} {r:>6.3f} {f1:>6.3f} {support:>4}")
    routes = [d.value for d in Destination]
    counts = Counter((str(o.record["expected_route"]), o.route) for o in outcomes)
    short = {d: d[:10] for d in routes}
    print("route confusion (rows: expected, columns: predicted)")
    print(" " * 30 + " ".join(f"{short[d]:>10}" for d in routes))
    for gold in routes:
        print(f"  {gold:<28}" + " ".join(f"{counts[(gold, pred)]:>10}" for pred in routes))


def print_errors(outcomes: Sequence[Outcome]) -> None:
    for o in outcomes:
        if o.route != o.record["expected_route"] or o.primary != o.expected_primary:
            text = str(o.record["text"]).replace("\n", " ")[:70]
            print(
                f"  {o.record['id']}: {o.record['problem_type']}/{o.expected_primary}"
                f" → {o.problem_type}/{o.primary}  {text}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--dev", type=Path, default=DEV)
    parser.add_argument("--extra", type=Path, nargs="*", default=[])
    parser.add_argument("--errors", action="store_true", help="list misrouted/mislabelled reports")
    parser.add_argument("--jobs", type=int, default=1, help="training runs in parallel")
    args = parser.parse_args(argv)

    batches = training_batches(args.corpus, args.dev)
    if not args.dev.is_file():
        print(f"dev set {args.dev} not found: no dev k-fold view")
    tasks: dict[str, tuple[dict[str, Records], Records]] = {
        name: ({other: rs for other, rs in batches.items() if other != name}, held_out)
        for name, held_out in batches.items()
        if len(batches) >= 2
    }
    with ProcessPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        results = dict(zip(tasks, pool.map(held_out_run, tasks.values()), strict=True))
    print(f"{'data':<22} {'n':>4}  {'route':>6}  {'macro-F1':>8}  {'insp.rec':>9}")
    views: dict[str, list[Outcome]] = {"LOBO corpus": [], "dev k-fold": []}
    for name, outcomes in results.items():
        views["dev k-fold" if is_dev_fold(name) else "LOBO corpus"].extend(outcomes)
        print_summary_row(name, outcomes)
    if args.extra:
        everything = [r for rs in batches.values() for r in rs]
        full = (
            classifier_from(train_named(batches))
            if everything
            else Classifier(load_lexicon(), None)
        )
    for path in args.extra:
        views[path.name] = predict(full, read_records(path))
    views = {name: outcomes for name, outcomes in views.items() if outcomes}
    print("\nsummary (each report scored by a model that did not see it)")
    for name, outcomes in views.items():
        print_summary_row(name, outcomes)
    for name, outcomes in views.items():
        print_details(name, outcomes)
        if args.errors:
            print_errors(outcomes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
