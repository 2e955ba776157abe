"""The statistical part: a naive Bayes model over character 1–3-grams.

Training (:func:`train`) only counts: for each head (primary discipline, problem type) and
class, in how many training reports each n-gram occurs. Those integer counts are the shipped
data file (``routing/data/model.json``), so retraining on the same corpus gives the same file
byte for byte. Weights are derived from the counts when the model is loaded:

    w[c][f] = log θ[c][f] − mean over classes of log θ[·][f],
    θ[c][f] = (count[c][f] + α) / (Σ_f count[c][f] + α·|V|)

Centred weights let the explanation show the n-grams that pull towards the chosen class.
Scoring a report is one Aho–Corasick scan for the vocabulary and one sum of packed integers
(all classes' fixed-point weights of an n-gram in one Python ``int``), so the cost per report
does not grow with the number of classes.
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


def _report_features(report: TrainingReport) -> set[str]:
    return text_features(normalise(report.text)) | set(position_features(report.position))


def train(
    reports: Sequence[TrainingReport],
    heads: Mapping[str, Sequence[str]],
    weights: Sequence[int] | None = None,
) -> dict[str, object]:
    """Count n-gram occurrences per head and class; the result is the model file's content.

    A report of integer weight w counts as w reports (the vocabulary still needs MIN_REPORTS
    distinct reports)."""
    if weights is None:
        weights = [1] * len(reports)
    per_report = [_report_features(report) for report in reports]
    document_frequency: dict[str, int] = {}
    for grams in per_report:
        for gram in grams:
            document_frequency[gram] = document_frequency.get(gram, 0) + 1
    vocabulary = sorted(g for g, df in document_frequency.items() if df >= MIN_REPORTS)
    index = {gram: i for i, gram in enumerate(vocabulary)}
    columns = [(head, cls) for head, classes in heads.items() for cls in classes]
    column_of = {key: i for i, key in enumerate(columns)}
    counts = [[0] * len(columns) for _ in vocabulary]
    reports_per_class = [0] * len(columns)
    for report, grams, weight in zip(reports, per_report, weights, strict=True):
        hit = [column_of[(head, cls)] for head, cls in report.labels.items()]
        for column in hit:
            reports_per_class[column] += weight
        for gram in grams:
            row = index.get(gram)
            if row is not None:
                counts_row = counts[row]
                for column in hit:
                    counts_row[column] += weight
    return {
        "format": "xuncha-nb-1",
        "heads": {head: list(classes) for head, classes in heads.items()},
        "reports_per_class": reports_per_class,
        "features": {gram: counts[i] for i, gram in enumerate(vocabulary)},
    }


@dataclass(frozen=True, slots=True)
class HeadScores:
    classes: tuple[str, ...]
    logits: tuple[float, ...]  # log-odds up to a constant, per class
    feature_ids: Collection[int]

    def best(self) -> str:
        return self.classes[max(range(len(self.classes)), key=self.logits.__getitem__)]


class NgramModel:
    """A loaded model: vocabulary automaton, packed weights, per-class weights for explaining."""

    def __init__(self, data: dict[str, object], alpha: float = 0.2) -> None:
        heads = _field(data, "heads", dict)
        features = _field(data, "features", dict)
        per_class = _field(data, "reports_per_class", list)
        self.heads: dict[str, tuple[str, ...]] = {h: tuple(c) for h, c in heads.items()}
        self.grams: list[str] = list(features)
        columns = sum(len(c) for c in self.heads.values())
        size = len(self.grams)
        totals = [alpha * size] * columns
        for row in features.values():
            for column, count in enumerate(row):
                totals[column] += count
        log_totals = [math.log(t) for t in totals]
        self.weights: list[list[float]] = [[0.0] * size for _ in range(columns)]
        offset = 0
        self.priors: dict[str, list[float]] = {}
        self.offsets: dict[str, int] = {}
        for head, classes in self.heads.items():
            span = range(offset, offset + len(classes))
            self.offsets[head] = offset
            counts = [per_class[c] + 1 for c in span]
            total = sum(counts)
            self.priors[head] = [math.log(n / total) for n in counts]
            for f, row in enumerate(features.values()):
                logs = [math.log(row[c] + alpha) - log_totals[c] for c in span]
                mean = sum(logs) / len(logs)
                for c, value in zip(span, logs, strict=True):
                    self.weights[c][f] = value - mean
            offset += len(classes)
        self.columns = columns
        self._pack(size)
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

    def _pack(self, size: int) -> None:
        bound = max((abs(w) for col in self.weights for w in col), default=1.0)
        self.bias = int(bound * SCALE) + 1
        self.bits = (2 * self.bias * max(size, 1)).bit_length() + 1
        self.mask = (1 << self.bits) - 1
        packed = []
        for f in range(size):
            value = 0
            for c in range(self.columns):
                value |= (round(self.weights[c][f] * SCALE) + self.bias) << (self.bits * c)
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
        sums = [
            (((total >> (self.bits * c)) & self.mask) - base) / SCALE for c in range(self.columns)
        ]
        scores = {}
        for head, classes in self.heads.items():
            start = self.offsets[head]
            priors = self.priors[head]
            logits = tuple(map(add, priors, sums[start : start + len(priors)]))
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
    if not isinstance(data, dict) or data.get("format") != "xuncha-nb-1":
        raise ValueError("not a xuncha-nb-1 model file")
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
