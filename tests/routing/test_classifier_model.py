"""The shipped n-gram model is exactly what the training script makes from its training data."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from routing.model import dump_model_data, shipped_model
from routing.training import deal_folds, train_classifier_model

DATA = Path(__file__).resolve().parents[1] / "data"


def _read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


Batches = list[list[dict[str, object]]]


def _batches() -> tuple[Batches, Batches]:
    """What tools/train_classifier.py trains on: the corpus batches and the dev folds."""
    corpus = [_read(path) for path in sorted((DATA / "corpus").glob("batch_*.jsonl"))]
    return corpus, [list(f) for f in deal_folds(_read(DATA / "dev" / "dev_reports.jsonl"))]


def test_training_data_includes_the_development_set() -> None:
    corpus, dev = _batches()
    assert len(corpus) >= 2
    assert [len(fold) for fold in dev] == [20, 20, 20, 20]  # the dev set, whole, in four folds


def test_shipped_model_matches_a_fresh_training_run() -> None:
    shipped = resources.files("routing").joinpath("data", "model.json").read_text(encoding="utf-8")
    fresh = json.loads(dump_model_data(train_classifier_model(*_batches())))
    # On failure: run `python tools/train_classifier.py` and commit routing/data/model.json.
    # Same vocabulary, classes and keys exactly; the fitted numbers to within what another
    # machine's floating-point library may change in the last written digit.
    assert _numbers_close(fresh, json.loads(shipped))


def _numbers_close(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_numbers_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_numbers_close, a, b))
    if isinstance(a, float | int) and isinstance(b, float | int):
        return abs(a - b) <= 1e-3
    return a == b


def test_model_comparison_notices_a_changed_weight() -> None:
    assert _numbers_close({"f": [1.0, 0.5]}, {"f": [1.0, 0.5004]})
    assert not _numbers_close({"f": [1.0, 0.5]}, {"f": [1.0, 0.52]})
    assert not _numbers_close({"f": [1.0, 0.5]}, {"g": [1.0, 0.5]})
    assert not _numbers_close({"f": [1.0, 0.5]}, {"f": [1.0]})


def test_training_is_deterministic() -> None:
    corpus, dev = _batches()
    assert dump_model_data(train_classifier_model(corpus[:2], dev[:1])) == dump_model_data(
        train_classifier_model(corpus[:2], dev[:1])
    )


def test_model_explains_with_the_ngrams_that_weigh_most() -> None:
    model = shipped_model()
    assert model is not None
    ids = model.feature_ids("村支书克扣低保金", "村支书")
    grams = model.top_grams("primary", "mass", ids)
    assert grams
    assert all(len(g) >= 2 and g in "村支书克扣低保金" for g in grams)
