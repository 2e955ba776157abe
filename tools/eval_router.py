"""Score the classifier on reports it was not trained on.

    .venv/bin/python tools/eval_router.py [--dev PATH] [--extra PATH ...] [--errors]

1. every corpus batch (tests/data/corpus/batch_*.jsonl) with a model trained on the other
   batches only (leave one batch out);
2. the development set (default ../shared/eval/dev_reports.jsonl beside the repository) with the
   model trained on the whole corpus — skipped with a message when the file is absent;
3. any --extra file of the same schema, with the whole-corpus model.

The lexicon is the same in every run: it was written from the 条例, not from these reports.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from routing.classify import Classifier  # noqa: E402
from routing.lexicon import load_lexicon  # noqa: E402
from routing.taxonomy import DESTINATION_BY_PROBLEM_TYPE, Destination, ProblemType  # noqa: E402
from routing.training import classifier_from, train_classifier_model  # noqa: E402
from tools.train_classifier import CORPUS, corpus_batches, read_records  # noqa: E402

DEV = ROOT.parent / "shared" / "eval" / "dev_reports.jsonl"
NONE = "none"


@dataclass(frozen=True)
class Outcome:
    record: dict[str, object]
    primary: str
    problem_type: str
    route: str

    @property
    def expected_primary(self) -> str:
        return str(self.record.get("primary") or NONE)


def classifier_for(batches: Sequence[Sequence[dict[str, object]]]) -> Classifier:
    return classifier_from(train_classifier_model(batches))


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
    args = parser.parse_args(argv)

    batches = {path.name: read_records(path) for path in corpus_batches(args.corpus)}
    header = f"{'data':<22} {'n':>4}  {'route':>6}  {'macro-F1':>8}  {'insp.rec':>9}"
    print(header)
    pooled: list[Outcome] = []
    if len(batches) >= 2:
        for name, held_out in batches.items():
            rest = [rs for other, rs in batches.items() if other != name]
            outcomes = predict(classifier_for(rest), held_out)
            pooled.extend(outcomes)
            print_summary_row(f"LOBO {name}", outcomes)
        print_summary_row("LOBO all batches", pooled)
    else:
        print("fewer than two corpus batches: no leave-one-batch-out run")
    everything = [r for rs in batches.values() for r in rs]
    full = (
        classifier_for(list(batches.values())) if everything else Classifier(load_lexicon(), None)
    )
    extra: dict[str, list[Outcome]] = {}
    if args.dev.is_file():
        extra["dev set"] = predict(full, read_records(args.dev))
    else:
        print(f"dev set {args.dev} not found: skipped")
    for path in args.extra:
        extra[path.name] = predict(full, read_records(path))
    for name, outcomes in extra.items():
        print_summary_row(name, outcomes)
    if pooled:
        print_details("leave-one-batch-out, all batches pooled", pooled)
        if args.errors:
            print_errors(pooled)
    for name, outcomes in extra.items():
        print_details(f"{name} (model trained on the whole corpus)", outcomes)
        if args.errors:
            print_errors(outcomes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
