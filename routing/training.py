"""Training from labelled reports (the corpus schema): n-gram counts and combining weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from routing.classify import HEADS, NONE_CLASS, PRIMARY_HEAD, PROBLEM_TYPE_HEAD, Classifier
from routing.combine import evidence_vector, fit_head, head_to_data
from routing.lexicon import load_lexicon
from routing.model import NgramModel, TrainingReport, train
from routing.reading import mask_negated, read_report
from routing.textnorm import normalise

Record = Mapping[str, Any]
FOLDS = 5
DEV_FOLDS = 4  # the development set is scored (and trained on) in this many folds
DEV_WEIGHT = 1  # a dev-set report counts this many times in training
CLASS_BALANCE = 0.5  # 0: the combining weights see the training mix of primary disciplines
PRIOR = "uniform"  # … and 1 moves it to this mix: "uniform" or "dev" (the dev folds' mix)


def deal_folds(records: Sequence[Record], count: int = DEV_FOLDS) -> list[list[Record]]:
    """Records dealt round-robin in file order into ``count`` folds: a fixed split."""
    return [list(records[i::count]) for i in range(count)]


def training_report(record: Record) -> TrainingReport:
    """One corpus line → the model's view of it: the text with negated phrases blanked out
    (as :meth:`Classifier.evidence` sees it), the accused position and the labels."""
    accused = record.get("accused") or {}
    text = normalise(str(record["text"]))
    return TrainingReport(
        text=mask_negated(text, read_report(text, load_lexicon())),
        position=accused.get("position"),
        labels={
            PRIMARY_HEAD: record.get("primary") or NONE_CLASS,
            PROBLEM_TYPE_HEAD: str(record["problem_type"]),
        },
    )


def train_model(
    records: Sequence[Record], weights: Sequence[int] | None = None
) -> dict[str, object]:
    """The n-gram model fitted to these records; deterministic for a given order."""
    return train([training_report(r) for r in records], HEADS, weights)


Weighted = list[tuple[Record, int]]


def _out_of_fold_vectors(folds: Sequence[Weighted]) -> list[list[float]]:
    lexicon = load_lexicon()
    vectors = []
    for held_out, fold in enumerate(folds):
        rest = [pair for i, other in enumerate(folds) if i != held_out for pair in other]
        data = train_model([r for r, _ in rest], [w for _, w in rest])
        classifier = Classifier(lexicon, NgramModel(data))
        for record, _ in fold:
            accused = record.get("accused") or {}
            found = classifier.evidence(
                str(record["text"]), accused.get("position"), accused.get("unit")
            )
            if found.heads is None:
                raise ValueError("an out-of-fold classifier has no model")
            vectors.append(
                evidence_vector(
                    found.reading, found.heads, official=found.official, inspector=found.inspector
                )
            )
    return vectors


def _reweighted(
    labels: Sequence[str], weights: Sequence[int], target: Mapping[str, float]
) -> list[float]:
    """Sample weights that move the class mix towards ``target`` (shares), by CLASS_BALANCE:
    0 keeps the training mix, 1 matches the target."""
    totals: dict[str, float] = {}
    for label, weight in zip(labels, weights, strict=True):
        totals[label] = totals.get(label, 0.0) + weight
    grand = sum(totals.values())
    return [
        w * (target[label] * grand / totals[label]) ** CLASS_BALANCE
        for label, w in zip(labels, weights, strict=True)
    ]


def _class_mix(labels: Sequence[str], classes: Sequence[str]) -> dict[str, float]:
    """Shares of each class, add-one smoothed; uniform when there are no labels."""
    counts = dict.fromkeys(classes, 1.0)
    for label in labels:
        counts[label] += 1.0
    total = sum(counts.values())
    return {c: n / total for c, n in counts.items()}


def train_classifier_model(
    batches: Sequence[Sequence[Record]], dev_folds: Sequence[Sequence[Record]] = ()
) -> dict[str, object]:
    """Model file content: counts over all batches and dev folds, combining weights fitted out
    of fold. A dev-set report counts DEV_WEIGHT times: it is written like the reports the
    classifier will meet.

    With fewer than two batches there is no out-of-fold evidence, so no combining weights are
    written and the classifier falls back to its fixed lexicon weights.
    """
    weighted: list[Weighted] = [[(r, 1) for r in b] for b in batches]
    weighted += [[(r, DEV_WEIGHT) for r in fold] for fold in dev_folds]
    pairs = [pair for batch in weighted for pair in batch]
    data = train_model([r for r, _ in pairs], [w for _, w in pairs])
    if len(weighted) >= 2:
        # Batches are dealt round-robin into at most FOLDS folds: enough out-of-fold evidence,
        # at a training cost that does not grow with the square of the number of batches.
        count = min(FOLDS, len(weighted))
        folds = [[pair for b in weighted[i::count] for pair in b] for i in range(count)]
        vectors = _out_of_fold_vectors(folds)
        pairs = [pair for fold in folds for pair in fold]
        weights = [w for _, w in pairs]
        primary = [str(r.get("primary") or NONE_CLASS) for r, _ in pairs]
        problem_types = [str(r["problem_type"]) for r, _ in pairs]
        classes = HEADS[PRIMARY_HEAD]
        dev_primary = [str(r.get("primary") or NONE_CLASS) for fold in dev_folds for r in fold]
        target = _class_mix(dev_primary if PRIOR == "dev" else [], classes)
        data["stacker"] = {
            PRIMARY_HEAD: head_to_data(
                fit_head(classes, vectors, primary, _reweighted(primary, weights, target))
            ),
            PROBLEM_TYPE_HEAD: head_to_data(
                fit_head(HEADS[PROBLEM_TYPE_HEAD], vectors, problem_types, weights)
            ),
        }
    return data


def classifier_from(data: dict[str, object]) -> Classifier:
    """A classifier for freshly trained model data (evaluation, tests)."""
    from routing.combine import head_from_data

    stacker = data.get("stacker")
    heads = (
        {head: head_from_data(value) for head, value in stacker.items()}
        if isinstance(stacker, dict)
        else None
    )
    return Classifier(load_lexicon(), NgramModel(data), heads)
