"""The second stage: how much to trust the lexicon and the n-gram model, learned per class.

Each report becomes a short vector of evidence (lexicon score per discipline and per problem
type, the model's probabilities, whether an official or an inspector is accused). A small
multinomial logistic regression per head turns it into the primary discipline and the problem
type. It is fitted on *out-of-fold* evidence — the model's view of each corpus batch comes from
a model trained without that batch — so it learns how far the model can be trusted on reports
it has not seen, not on its own training data. Full-batch gradient descent with a fixed number
of steps keeps training deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from operator import mul

from routing.reading import Reading
from routing.taxonomy import Discipline, ProblemType

DISCIPLINES = tuple(Discipline)
PROBLEM_TYPES = tuple(ProblemType)
STEPS = 300
LEARNING_RATE = 0.5
L2 = 0.002


def _log_probability(p: float) -> float:
    # Log-probabilities let the linear stacker rescale the model's confidence; clipped and
    # scaled so that every input stays within a few units.
    return max(math.log(p), -10.0) / 5.0 if p > 0 else -2.0


def evidence_vector(
    reading: Reading,
    model_heads: dict[str, list[float]],
    *,
    official: bool,
    inspector: bool,
) -> list[float]:
    """The stacker's inputs, in a fixed order (see :data:`EVIDENCE_NAMES`)."""
    vector = [math.log1p(reading.disciplines.get(d, 0.0)) for d in DISCIPLINES]
    vector += map(_log_probability, model_heads["primary"])
    vector += [math.log1p(reading.problem_types.get(p, 0.0)) for p in PROBLEM_TYPES]
    vector += map(_log_probability, model_heads["problem_type"])
    vector += [
        math.log1p(reading.misconduct),
        1.0 if official else 0.0,
        1.0 if inspector else 0.0,
        1.0 if reading.negated else 0.0,
        1.0,  # bias
    ]
    return vector


EVIDENCE_NAMES: tuple[str, ...] = (
    *(f"词语:{d.label}" for d in Discipline),
    *(f"模型:{c}" for c in (*(d.value for d in Discipline), "none")),
    *(f"词语:{p.label}" for p in ProblemType),
    *(f"模型:{p.value}" for p in ProblemType),
    "违纪行为词",
    "公职人员",
    "巡察人员",
    "含否定",
    "常数",
)


def _softmax(values: Sequence[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


@dataclass(frozen=True, slots=True)
class StackedHead:
    classes: tuple[str, ...]
    weights: tuple[tuple[float, ...], ...]  # one row per class

    def probabilities(self, vector: Sequence[float]) -> list[float]:
        return _softmax([sum(map(mul, row, vector)) for row in self.weights])


def fit_head(
    classes: Sequence[str],
    vectors: Sequence[Sequence[float]],
    labels: Sequence[str],
    sample_weights: Sequence[float] | None = None,
) -> StackedHead:
    """Multinomial logistic regression by full-batch gradient descent (deterministic).

    The gradient is taken column by column (one C-level dot product per class and input), which
    keeps a fit over a thousand reports to about a second in pure Python.
    """
    width = len(vectors[0])
    rows = [[0.0] * width for _ in classes]
    targets = [classes.index(label) for label in labels]
    shares = [1.0] * len(vectors) if sample_weights is None else list(sample_weights)
    count = sum(shares)
    columns = [[vector[j] for vector in vectors] for j in range(width)]
    truth = [[1.0 if t == k else 0.0 for t in targets] for k in range(len(classes))]
    for _ in range(STEPS):
        probabilities = [
            _softmax([sum(map(mul, row, vector)) for row in rows]) for vector in vectors
        ]
        for k, row in enumerate(rows):
            errors = [
                (p[k] - y) * w for p, y, w in zip(probabilities, truth[k], shares, strict=True)
            ]
            for j, column in enumerate(columns):
                gradient = sum(map(mul, errors, column))
                row[j] -= LEARNING_RATE * (gradient / count + L2 * row[j])
    rounded = tuple(tuple(round(w, 6) for w in row) for row in rows)
    return StackedHead(tuple(classes), rounded)


def head_to_data(head: StackedHead) -> dict[str, object]:
    return {"classes": list(head.classes), "weights": [list(row) for row in head.weights]}


def head_from_data(data: object) -> StackedHead:
    if not isinstance(data, dict):
        raise ValueError("stacker head must be an object")
    classes = tuple(str(c) for c in data["classes"])
    weights = tuple(tuple(float(w) for w in row) for row in data["weights"])
    if len(weights) != len(classes) or any(len(r) != len(EVIDENCE_NAMES) for r in weights):
        raise ValueError("stacker weights do not match the evidence vector")
    return StackedHead(classes, weights)
