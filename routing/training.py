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


def train_counts(records: Sequence[Record]) -> dict[str, object]:
    """The n-gram model's counts for these records; deterministic for a given order."""
    return train([training_report(r) for r in records], HEADS)


def _out_of_fold_vectors(batches: Sequence[Sequence[Record]]) -> list[list[float]]:
    lexicon = load_lexicon()
    vectors = []
    for held_out, batch in enumerate(batches):
        rest = [r for i, other in enumerate(batches) if i != held_out for r in other]
        classifier = Classifier(lexicon, NgramModel(train_counts(rest)))
        for record in batch:
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


def train_classifier_model(batches: Sequence[Sequence[Record]]) -> dict[str, object]:
    """Model file content: counts over all batches, combining weights fitted out of fold.

    With fewer than two batches there is no out-of-fold evidence, so no combining weights are
    written and the classifier falls back to its fixed lexicon weights.
    """
    records = [r for batch in batches for r in batch]
    data = train_counts(records)
    if len(batches) >= 2:
        # Batches are dealt round-robin into at most FOLDS folds: enough out-of-fold evidence,
        # at a training cost that does not grow with the square of the number of batches.
        count = min(FOLDS, len(batches))
        folds = [[r for b in batches[i::count] for r in b] for i in range(count)]
        vectors = _out_of_fold_vectors(folds)
        records = [r for fold in folds for r in fold]
        primary = [str(r.get("primary") or NONE_CLASS) for r in records]
        problem_types = [str(r["problem_type"]) for r in records]
        data["stacker"] = {
            PRIMARY_HEAD: head_to_data(fit_head(HEADS[PRIMARY_HEAD], vectors, primary)),
            PROBLEM_TYPE_HEAD: head_to_data(
                fit_head(HEADS[PROBLEM_TYPE_HEAD], vectors, problem_types)
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
