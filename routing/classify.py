"""六项纪律 classifier: the lexicon's reading and the n-gram model, combined.

Deciding the problem type follows SPEC §4 "What generalises": a report that describes an
official's misconduct is a ``violation_lead`` unless there is positive evidence of something
else; ``other`` needs words of a private, commercial or non-party matter; a report whose actor
is an inspector (第二十五条) is ``inspector_misconduct`` whatever the act. How much each kind of
evidence counts is learned on out-of-fold corpus runs (``routing/combine.py``); without a
shipped model the lexicon decides alone under the fixed weights of :class:`FallbackWeights`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache

from routing.classification import Classification
from routing.combine import StackedHead, evidence_vector
from routing.lexicon import Lexicon, load_lexicon
from routing.model import HeadScores, NgramModel, shipped_model, shipped_stacker
from routing.reading import Evidence, Reading, mask_negated, read_report
from routing.taxonomy import Discipline, ProblemType
from routing.textnorm import normalise

NONE_CLASS = "none"
PRIMARY_HEAD = "primary"
PROBLEM_TYPE_HEAD = "problem_type"
HEADS: dict[str, tuple[str, ...]] = {
    PRIMARY_HEAD: (*(d.value for d in Discipline), NONE_CLASS),
    PROBLEM_TYPE_HEAD: tuple(p.value for p in ProblemType),
}
DISCIPLINES = tuple(Discipline)
PROBLEM_TYPES = tuple(ProblemType)
LEAD_TYPES = tuple(p for p in ProblemType if p is not ProblemType.INSPECTOR_MISCONDUCT)
MAX_EVIDENCE_SENTENCES = 6
MAX_CATEGORIES = 3
# The model's log-odds are divided by this before softmax: the regression's L2-damped odds are
# flat, and the combining model reads log-probabilities on a fixed scale (combine.py).
TEMPERATURE = 0.25
# A report's n-grams are scaled to unit length, so a one-line note would look as certain as a
# letter; below this many n-grams (about 40 characters) the temperature rises with √(this / n).
FULL_EVIDENCE = 100
SECONDARY_SHARE = 0.5  # a discipline with lexicon evidence joins at this share of the top
SECONDARY_EVIDENCE = 2.0  # … or when a full-weight rule of the lexicon fired for it
HINT_BONUS = 0.15  # the reporter's own category choice, as probability mass
MIN_OTHER_TYPE_CONFIDENCE = 0.5  # below this, a report stays a violation lead (SPEC §4)


@dataclass(frozen=True, slots=True)
class FallbackWeights:
    """Lexicon-only decision, used when no model file is shipped."""

    misconduct: float = 0.3
    official: float = 1.0
    violation_prior: float = 1.0


@dataclass(frozen=True, slots=True)
class Signals:
    """Everything the decision looks at, computed once per report."""

    reading: Reading
    scores: dict[str, HeadScores] | None
    heads: dict[str, list[float]] | None
    official: bool
    inspector: bool


def _softmax(values: tuple[float, ...], temperature: float) -> list[float]:
    top = max(values)
    exps = [math.exp((v - top) / temperature) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


@lru_cache(maxsize=4096)
def accuses_inspection_body(unit: str | None) -> bool:
    """The accused unit is a 巡察组 or the 巡察办 itself (not a unit under inspection)."""
    unit_text = normalise(unit or "")
    return "巡察" in unit_text and "被巡察" not in unit_text


class Classifier:
    """A lexicon, an optional n-gram model and the learned weights that combine them."""

    def __init__(
        self,
        lexicon: Lexicon,
        model: NgramModel | None,
        stacker: dict[str, StackedHead] | None = None,
    ) -> None:
        self.lexicon = lexicon
        self.model = model
        self.stacker = stacker if model is not None else None

    def evidence(self, text: str, position: str | None, unit: str | None) -> Signals:
        normalised = normalise(text)
        reading = read_report(normalised, self.lexicon)
        scores = heads = None
        if self.model is not None:
            ids = self.model.feature_ids(mask_negated(normalised, reading), position)
            scores = self.model.score(ids)
            temperature = TEMPERATURE * math.sqrt(max(1.0, FULL_EVIDENCE / max(len(ids), 1)))
            heads = {head: _softmax(s.logits, temperature) for head, s in scores.items()}
        official = reading.official or bool(position and position.strip())
        inspector = reading.inspector or accuses_inspection_body(unit)
        return Signals(reading, scores, heads, official, inspector)

    def classify(
        self,
        text: str,
        *,
        position: str | None = None,
        unit: str | None = None,
        hint: Discipline | None = None,
    ) -> Classification:
        if not text.strip():
            return Classification((), None, ProblemType.OTHER, ("举报内容为空，无法判断所涉纪律",))
        found = self.evidence(text, position, unit)
        if found.heads is not None and self.stacker is not None:
            vector = evidence_vector(
                found.reading, found.heads, official=found.official, inspector=found.inspector
            )
            type_probs = dict(
                zip(
                    HEADS[PROBLEM_TYPE_HEAD],
                    self.stacker[PROBLEM_TYPE_HEAD].probabilities(vector),
                    strict=True,
                )
            )
            primary_probs = dict(
                zip(
                    HEADS[PRIMARY_HEAD],
                    self.stacker[PRIMARY_HEAD].probabilities(vector),
                    strict=True,
                )
            )
        else:
            type_probs, primary_probs = self._fallback(found.reading, found.official)
        problem_type, why_type = self._problem_type(found, type_probs)
        categories: tuple[Discipline, ...] = ()
        if problem_type is not ProblemType.OTHER:
            categories = self._categories(found.reading, primary_probs, hint)
        explanation = [e.sentence for e in self._top_evidence(found.reading)]
        explanation.extend(found.reading.negated)
        explanation.extend(self._model_sentences(found.scores, categories))
        if categories:
            share = primary_probs.get(categories[0].value, 0.0)
            explanation.append(f"综合判断主要涉及{categories[0].label}（把握度 {share:.2f}）")
        explanation.append(why_type)
        primary = categories[0] if categories else None
        return Classification(categories, primary, problem_type, tuple(explanation))

    def _fallback(
        self, reading: Reading, official: bool
    ) -> tuple[dict[str, float], dict[str, float]]:
        weights = FallbackWeights()
        types = {p.value: reading.problem_types.get(p, 0.0) for p in PROBLEM_TYPES}
        types[ProblemType.VIOLATION_LEAD.value] += (
            weights.violation_prior
            + weights.misconduct * reading.misconduct
            + (weights.official if official else 0.0)
        )
        types[ProblemType.INSPECTOR_MISCONDUCT.value] = 0.0
        primary = {d.value: reading.disciplines.get(d, 0.0) for d in DISCIPLINES}
        return _normalised(types), _normalised(primary)

    @staticmethod
    def _problem_type(found: Signals, probs: dict[str, float]) -> tuple[ProblemType, str]:
        if found.inspector:
            who = found.reading.inspector_phrase or "被反映单位为巡察机构"
            return (
                ProblemType.INSPECTOR_MISCONDUCT,
                f"被反映人是巡察人员（“{who}”）→反映巡察人员问题（第二十五条）",
            )
        chosen = max(LEAD_TYPES, key=lambda p: probs.get(p.value, 0.0))
        if probs.get(chosen.value, 0.0) < MIN_OTHER_TYPE_CONFIDENCE:
            chosen = ProblemType.VIOLATION_LEAD  # the prior of SPEC §4 when the evidence is thin
        if chosen is ProblemType.VIOLATION_LEAD:
            if found.official:
                return chosen, "举报反映公职人员的具体行为→违纪违法问题线索"
            return chosen, "未见私人或非党纪事项的积极证据→按违纪违法问题线索处理"
        return chosen, f"综合词语提示与统计模型→{chosen.label}（把握度 {probs[chosen.value]:.2f}）"

    @staticmethod
    def _categories(
        reading: Reading, probs: dict[str, float], hint: Discipline | None
    ) -> tuple[Discipline, ...]:
        scores = {d: probs.get(d.value, 0.0) for d in DISCIPLINES}
        if hint is not None:
            # With no behaviour named in the text, the reporter's own choice is the best
            # evidence there is; otherwise it only breaks near-ties.
            scores[hint] += HINT_BONUS if reading.disciplines else 1.0
        ranked = sorted(DISCIPLINES, key=lambda d: -scores[d])  # stable: ties keep 条例 order
        if scores[ranked[0]] <= 0:
            return ()
        chosen = [ranked[0]]
        for d in ranked[1:]:
            lexicon = reading.disciplines.get(d, 0.0)
            if lexicon >= SECONDARY_EVIDENCE or (
                lexicon > 0 and scores[d] >= SECONDARY_SHARE * scores[ranked[0]]
            ):
                chosen.append(d)
            if len(chosen) == MAX_CATEGORIES:
                break
        return tuple(chosen)

    @staticmethod
    def _top_evidence(reading: Reading) -> list[Evidence]:
        return sorted(reading.evidence, key=lambda e: -e.weight)[:MAX_EVIDENCE_SENTENCES]

    def _model_sentences(
        self, scores: dict[str, HeadScores] | None, categories: tuple[Discipline, ...]
    ) -> list[str]:
        if scores is None or self.model is None or not categories:
            return []
        ids = scores[PRIMARY_HEAD].feature_ids
        grams = self.model.top_grams(PRIMARY_HEAD, categories[0].value, ids)
        if not grams:
            return []
        quoted = "、".join(f"“{g}”" for g in grams)
        return [f"统计模型权重最高的片段：{quoted}→{categories[0].label}"]


def _normalised(scores: dict[str, float]) -> dict[str, float]:
    total = sum(scores.values())
    return {k: (v / total if total > 0 else 0.0) for k, v in scores.items()}


@cache
def default_classifier() -> Classifier:
    """The classifier with the shipped lexicon, model and combining weights, built once."""
    return Classifier(load_lexicon(), shipped_model(), shipped_stacker())


def classify(
    text: str,
    *,
    position: str | None = None,
    unit: str | None = None,
    hint: Discipline | None = None,
) -> Classification:
    """Classify one report under the 六项纪律 and 第十九条's problem types, with reasons."""
    return default_classifier().classify(text, position=position, unit=unit, hint=hint)
