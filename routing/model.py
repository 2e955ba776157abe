"""The statistical part: a logistic regression over character 1–3-grams.

Training (:func:`train`, scikit-learn) fits one multinomial logistic regression per head
(primary discipline, problem type) over the n-grams a report contains, each weighted by its
inverse document frequency and the report's vector scaled to unit length. The shipped data file
(``routing/data/model.json``) holds per n-gram its idf and one weight per class, and per head
the intercepts; scoring needs no scikit-learn:

    logit[c] = b[c] + Σ_f w[c][f] · idf[f] / √(Σ_f idf[f]²)     (f over the report's n-grams)

Scoring a report is one Aho–Corasick scan for the vocabulary and one sum of packed integers
(all classes' fixed-point ``w · idf`` of an n-gram in one Python ``int``), so the cost per report
does not grow with the number of classes. The weights towards a class also explain it: the
matched n-grams with the largest ones are named.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from operator import add, itemgetter
from typing import TypeVar

import ahocorasick

from routing.combine import StackedHead, head_from_data
from routing.textnorm import normalise

T = TypeVar("T")

MODEL_FILE = "model.json"
MIN_N = 1  # shortest n-gram counted
MAX_N = 3
MIN_REPORTS = 2  # an n-gram seen in one training report only is noise, not a feature
NO_POSITION = "@∅"
EXPLAIN_POOL = 3000  # candidates per class for the explanation
SCALE = 1 << 12  # fixed-point scale of the packed weights
MODEL_FORMAT = "xuncha-lr-1"
REGULARISATION = 30.0  # the logistic regression's C: inverse strength of its L2 penalty
ABSENT_CLASS = -30.0  # intercept of a class no training report had: never chosen
DECIMALS = 4  # written precision of the fitted numbers; finer than the packed SCALE


@dataclass(frozen=True, slots=True)
class TrainingReport:
    text: str
    position: str | None
    labels: dict[str, str]  # head → class, e.g. {"primary": "integrity", ...}


def _runs(text: str) -> list[str]:
    runs, current = [], []
    for ch in text:
        if ch.isalnum():
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def text_features(normalised_text: str) -> set[str]:
    """Character 1–3-grams that do not cross punctuation or spaces."""
    grams: set[str] = set()
    for run in _runs(normalised_text):
        for n in range(MIN_N, MAX_N + 1):
            grams.update(run[i : i + n] for i in range(len(run) - n + 1))
    return grams


def position_features(position: str | None) -> list[str]:
    """Who is accused: 1–2-grams of the position field, marked so they never meet text n-grams."""
    if not position or not position.strip():
        return [NO_POSITION]
    runs = _runs(normalise(position))
    grams = {"@" + run[i : i + n] for run in runs for n in (1, 2) for i in range(len(run) - n + 1)}
    return sorted(grams)


def _report_features(report: TrainingReport) -> list[str]:
    grams = text_features(normalise(report.text)) | set(position_features(report.position))
    return sorted(grams)


def _same(features: list[str]) -> list[str]:
    return features


def train(
    reports: Sequence[TrainingReport],
    heads: Mapping[str, Sequence[str]],
    weights: Sequence[int] | None = None,
) -> dict[str, object]:
    """Fit one logistic regression per head; the result is the model file's content.

    Features are the n-grams seen in at least MIN_REPORTS distinct reports, present or absent
    (binary), weighted by inverse document frequency and scaled to unit length per report
    (scikit-learn's ``TfidfTransformer`` defaults); each head is a multinomial logistic
    regression (``lbfgs``, deterministic) with classes weighted to equal shares. A report of
    integer weight w counts as w reports. scikit-learn is needed here only: scoring uses the
    written weights.
    """
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    per_report = [_report_features(report) for report in reports]
    vectoriser = CountVectorizer(analyzer=_same, binary=True, min_df=MIN_REPORTS)
    transformer = TfidfTransformer()
    matrix = transformer.fit_transform(vectoriser.fit_transform(per_report))
    vocabulary = [str(g) for g in vectoriser.get_feature_names_out()]
    columns: list[list[float]] = []
    intercepts: dict[str, list[float]] = {}
    for head, classes in heads.items():
        labels = [report.labels[head] for report in reports]
        fitted = LogisticRegression(C=REGULARISATION, class_weight="balanced", max_iter=5000)
        fitted.fit(matrix, labels, sample_weight=weights)
        rows = {str(c): i for i, c in enumerate(fitted.classes_)}
        coefficients = fitted.coef_.tolist()
        biases = fitted.intercept_.tolist()
        if len(rows) == 2:  # a binary fit has one row: the second class against the first
            coefficients = [[-w / 2 for w in coefficients[0]], [w / 2 for w in coefficients[0]]]
            biases = [-biases[0] / 2, biases[0] / 2]
        intercepts[head] = []
        for cls in classes:
            row = rows.get(cls)
            columns.append([0.0] * len(vocabulary) if row is None else coefficients[row])
            intercepts[head].append(ABSENT_CLASS if row is None else round(biases[row], DECIMALS))
    idf = transformer.idf_.tolist()
    return {
        "format": MODEL_FORMAT,
        "heads": {head: list(classes) for head, classes in heads.items()},
        "intercepts": intercepts,
        "features": {
            gram: [round(idf[f], DECIMALS), *(round(column[f], DECIMALS) for column in columns)]
            for f, gram in enumerate(vocabulary)
        },
    }


@dataclass(frozen=True, slots=True)
class HeadScores:
    classes: tuple[str, ...]
    logits: tuple[float, ...]  # the logistic regression's log-odds up to a constant, per class
    feature_ids: Collection[int]

    def best(self) -> str:
        return self.classes[max(range(len(self.classes)), key=self.logits.__getitem__)]


class NgramModel:
    """A loaded model: vocabulary automaton, packed weights, per-class weights for explaining."""

    def __init__(self, data: dict[str, object]) -> None:
        heads = _field(data, "heads", dict)
        features = _field(data, "features", dict)
        intercepts = _field(data, "intercepts", dict)
        self.heads: dict[str, tuple[str, ...]] = {h: tuple(c) for h, c in heads.items()}
        self.grams: list[str] = list(features)
        columns = sum(len(c) for c in self.heads.values())
        size = len(self.grams)
        rows = list(features.values())
        if any(len(row) != columns + 1 for row in rows):
            raise ValueError("model file: a feature row does not match the heads")
        # A feature's value in a report is its idf over the report's length; the weights
        # stored here already carry the idf, the length is divided out when scoring.
        idf_squared = [row[0] * row[0] for row in rows]
        self.weights: list[list[float]] = [
            [row[0] * row[1 + c] for row in rows] for c in range(columns)
        ]
        self.intercepts: dict[str, tuple[float, ...]] = {}
        self.offsets: dict[str, int] = {}
        offset = 0
        for head, classes in self.heads.items():
            self.offsets[head] = offset
            self.intercepts[head] = tuple(float(b) for b in intercepts[head])
            if len(self.intercepts[head]) != len(classes):
                raise ValueError(f"model file: intercepts of {head!r} do not match its classes")
            offset += len(classes)
        self.columns = columns
        self._pack(size, idf_squared)
        # Single characters and n-grams of function words (“了我”) say little to a reader;
        # the explanation skips them.
        shown = [_worth_showing(gram) for gram in self.grams]
        self.explaining = [
            [w if ok else -math.inf for ok, w in zip(shown, col, strict=True)]
            for col in self.weights
        ]
        # Per class, the n-grams worth naming: those that pull towards it hardest.
        self.strongest = [
            frozenset(sorted(range(size), key=col.__getitem__, reverse=True)[:EXPLAIN_POOL])
            for col in self.explaining
        ]
        self.automaton = ahocorasick.Automaton()
        for f, gram in enumerate(self.grams):
            if not gram.startswith("@"):
                self.automaton.add_word(gram, f)
        self.automaton.make_automaton()
        self.position_ids = {g: f for f, g in enumerate(self.grams) if g.startswith("@")}

    def _pack(self, size: int, idf_squared: Sequence[float]) -> None:
        # One slot per class, and a last one for idf² (the report's squared length): a single
        # sum of packed integers gives every class's score and the length to divide it by.
        slots = [*self.weights, idf_squared]
        bound = max((abs(w) for slot in slots for w in slot), default=1.0)
        self.bias = int(bound * SCALE) + 1
        self.bits = (2 * self.bias * max(size, 1)).bit_length() + 1
        self.mask = (1 << self.bits) - 1
        packed = []
        for f in range(size):
            value = 0
            for c, slot in enumerate(slots):
                value |= (round(slot[f] * SCALE) + self.bias) << (self.bits * c)
            packed.append(value)
        self.packed = packed

    def feature_ids(self, normalised_text: str, position: str | None) -> set[int]:
        ids = set(map(itemgetter(1), self.automaton.iter(normalised_text)))
        ids.update(self._position_ids(position))
        return ids

    @lru_cache(maxsize=4096)  # noqa: B019 — positions repeat; the model lives for the process
    def _position_ids(self, position: str | None) -> tuple[int, ...]:
        found = (self.position_ids.get(gram) for gram in position_features(position))
        return tuple(f for f in found if f is not None)

    def score(self, feature_ids: Collection[int]) -> dict[str, HeadScores]:
        total = sum(map(self.packed.__getitem__, feature_ids))
        base = self.bias * len(feature_ids)
        squared = ((total >> (self.bits * self.columns)) & self.mask) - base
        unit = math.sqrt(squared * SCALE) or SCALE  # SCALE · the report's length
        sums = [
            (((total >> (self.bits * c)) & self.mask) - base) / unit for c in range(self.columns)
        ]
        scores = {}
        for head, classes in self.heads.items():
            start = self.offsets[head]
            intercepts = self.intercepts[head]
            logits = tuple(map(add, intercepts, sums[start : start + len(intercepts)]))
            scores[head] = HeadScores(classes, logits, feature_ids)
        return scores

    def top_grams(self, head: str, cls: str, feature_ids: Iterable[int], k: int = 3) -> list[str]:
        """The k n-grams worth naming (see :func:`_worth_showing`) that pull hardest to ``cls``."""
        column = self.explaining[self.offsets[head] + self.heads[head].index(cls)]
        candidates = self.strongest[self.offsets[head] + self.heads[head].index(cls)]
        found = candidates.intersection(feature_ids)
        best = sorted(found, key=column.__getitem__, reverse=True)[: k + 1]
        grams = dict.fromkeys(self.grams[f].lstrip("@") for f in best if column[f] > 0)
        return list(grams)[:k]


FUNCTION_CHARACTERS = frozenset(
    "了我你他她它的地得是在就都也还和与把被给说这那个们有一不没吗呢吧啊呀要会"
)


def _worth_showing(gram: str) -> bool:
    text = gram.lstrip("@")
    return len(text) >= 2 and not FUNCTION_CHARACTERS.issuperset(text) and not text.isdigit()


def _field(data: dict[str, object], name: str, kind: type[T]) -> T:
    value = data.get(name)
    if not isinstance(value, kind):
        raise ValueError(f"model file: {name!r} is not a {kind.__name__}")
    return value


def load_model_data(text: str) -> dict[str, object]:
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise ValueError(f"not a {MODEL_FORMAT} model file")
    return data


@cache
def _shipped_data() -> dict[str, object] | None:
    path = resources.files("routing").joinpath("data", MODEL_FILE)
    if not path.is_file():
        return None
    return load_model_data(path.read_text(encoding="utf-8"))


@cache
def shipped_model() -> NgramModel | None:
    """The model trained on the project's corpus, or None if no model file is shipped."""
    data = _shipped_data()
    return NgramModel(data) if data is not None else None


@cache
def shipped_stacker() -> dict[str, StackedHead] | None:
    """The combining weights fitted with the shipped model, or None if there are none."""
    data = _shipped_data()
    if data is None or "stacker" not in data:
        return None
    stacker = _field(data, "stacker", dict)
    return {head: head_from_data(value) for head, value in stacker.items()}


def dump_model_data(data: dict[str, object]) -> str:
    """Stable text of a model file: one feature per line, so diffs stay reviewable."""
    features = _field(data, "features", dict)
    head = {k: v for k, v in data.items() if k != "features"}
    lines = [json.dumps(head, ensure_ascii=False, sort_keys=True)[:-1] + ', "features": {']
    items = [f"{json.dumps(g, ensure_ascii=False)}: {json.dumps(c)}" for g, c in features.items()]
    lines.append(",\n".join(items))
    lines.append("}}")
    return "\n".join(lines) + "\n"
