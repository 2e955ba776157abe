"""The shipped n-gram model is exactly what the training script makes from the corpus."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from routing.model import dump_model_data, shipped_model
from routing.training import train_classifier_model

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"


def _batches() -> list[list[dict[str, object]]]:
    return [
        [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        for path in sorted(CORPUS.glob("batch_*.jsonl"))
    ]


def test_shipped_model_matches_a_fresh_training_run() -> None:
    shipped = resources.files("routing").joinpath("data", "model.json").read_text(encoding="utf-8")
    fresh = dump_model_data(train_classifier_model(_batches()))
    # On failure: run `python tools/train_classifier.py` and commit routing/data/model.json.
    assert fresh == shipped


def test_training_is_deterministic() -> None:
    batches = _batches()[:3]
    assert dump_model_data(train_classifier_model(batches)) == dump_model_data(
        train_classifier_model(batches)
    )


def test_model_explains_with_the_ngrams_that_weigh_most() -> None:
    model = shipped_model()
    assert model is not None
    ids = model.feature_ids("村支书克扣低保金", "村支书")
    grams = model.top_grams("primary", "mass", ids)
    assert grams
    assert all(len(g) >= 2 and g in "村支书克扣低保金" for g in grams)
