"""The shipped n-gram model is exactly what the training script makes from its training data."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

from routing.model import (
    ABSENT_CLASS,
    MIN_REPORTS,
    NO_POSITION,
    REGULARISATION,
    NgramModel,
    TrainingReport,
    dump_model_data,
    shipped_model,
    text_features,
    train,
)
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


def test_written_weights_score_as_the_fitted_regression_with_a_class_no_report_had() -> None:
    # Two classes seen (a binary fit: one row of weights in scikit-learn) and one never seen.
    reports = [
        TrainingReport(text, None, {"h": label})
        for text, label in [
            ("村支书克扣低保金", "a"),
            ("村支书克扣救灾款", "a"),
            ("村支书侵占低保金", "a"),
            ("局长违规提拔亲属", "b"),
            ("局长违规提拔同学", "b"),
            ("局长突击提拔亲属", "b"),
        ]
    ]
    model = NgramModel(train(reports, {"h": ("a", "b", "c")}))
    for text, expected in [("克扣低保金", "a"), ("违规提拔亲属", "b")]:
        scores = model.score(model.feature_ids(text, None))["h"]
        assert scores.best() == expected
        assert scores.logits[2] == ABSENT_CLASS  # never chosen, whatever the text
    # The written weights give scikit-learn's own probability, up to the four decimals written.
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    grams = [sorted(text_features(r.text) | {NO_POSITION}) for r in reports]
    vectoriser = CountVectorizer(analyzer=lambda g: g, binary=True, min_df=MIN_REPORTS)
    transformer = TfidfTransformer()
    matrix = transformer.fit_transform(vectoriser.fit_transform(grams))
    fitted = LogisticRegression(C=REGULARISATION, class_weight="balanced", max_iter=5000)
    fitted.fit(matrix, [r.labels["h"] for r in reports])
    text = "村支书违规提拔亲属"
    query = transformer.transform(
        vectoriser.transform([sorted(text_features(text) | {NO_POSITION})])
    )
    expected_b = fitted.predict_proba(query)[0][list(fitted.classes_).index("b")]
    a, b, _ = model.score(model.feature_ids(text, None))["h"].logits
    assert abs(1 / (1 + math.exp(a - b)) - expected_b) < 0.01
