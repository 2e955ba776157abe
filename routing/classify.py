"""六项纪律 classifier: the lexicon's reading and the n-gram model, combined with a prior.

Deciding the problem type follows SPEC §4 "What generalises": a report that describes an
official's misconduct is a ``violation_lead`` unless there is positive evidence of something
else; ``other`` needs words of a private, commercial or non-party matter; a report whose actor
is an inspector (第二十五条) is ``inspector_misconduct`` whatever the act. The disciplines are
ranked by lexicon evidence plus the model's view, so a report no rule matched still gets the
discipline its wording is closest to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from routing.classification import Classification
from routing.lexicon import Lexicon, load_lexicon
from routing.model import HeadScores, NgramModel, shipped_model
from routing.reading import Evidence, Reading, read_report
from routing.taxonomy import Discipline, ProblemType
from routing.textnorm import normalise

NONE_CLASS = "none"
PRIMARY_HEAD = "primary"
PROBLEM_TYPE_HEAD = "problem_type"
HEADS: dict[str, tuple[str, ...]] = {
    PRIMARY_HEAD: (*(d.value for d in Discipline), NONE_CLASS),
    PROBLEM_TYPE_HEAD: tuple(p.value for p in ProblemType),
}
MAX_EVIDENCE_SENTENCES = 6


@dataclass(frozen=True, slots=True)
class CombineParams:
    """How the parts are weighed; chosen on leave-one-batch-out runs over the corpus only."""

    temperature: float = 0.5  # the model's log-odds are divided by √(n-grams) · this
    model_discipline: float = 6.0  # weight of the model's discipline probabilities
    model_problem_type: float = 2.0
    lexicon_problem_type: float = 0.6  # per unit of problem-type hint weight
    misconduct: float = 0.1  # per unit of disciplinary term weight, towards violation_lead
    official: float = 0.0  # an official accused, towards violation_lead
    violation_prior: float = 0.0
    inspector: float = 6.0
    secondary_share: float = 0.45  # a discipline joins the categories at this share of the top
    hint: float = 1.0


def _softmax(values: tuple[float, ...], temperature: float) -> list[float]:
    top = max(values)
    exps = [math.exp((v - top) / temperature) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def _accuses_inspector(position: str | None, unit: str | None) -> bool:
    unit_text = normalise(unit or "")
    return "巡察" in unit_text and "被巡察" not in unit_text


class Classifier:
    """A lexicon and an optional model, combined under :class:`CombineParams`."""

    def __init__(
        self, lexicon: Lexicon, model: NgramModel | None, params: CombineParams | None = None
    ) -> None:
        self.lexicon = lexicon
        self.model = model
        self.params = params or CombineParams()

    def classify(
        self,
        text: str,
        *,
        position: str | None = None,
        unit: str | None = None,
        hint: Discipline | None = None,
    ) -> Classification:
        normalised = normalise(text)
        if not normalised.strip():
            return Classification((), None, ProblemType.OTHER, ("举报内容为空，无法判断所涉纪律",))
        reading = read_report(normalised, self.lexicon)
        raw, heads = self._model_scores(normalised, position)
        problem_type, why_type = self._problem_type(reading, heads, position, unit)
        explanation: list[str] = []
        if problem_type is ProblemType.OTHER:
            categories: tuple[Discipline, ...] = ()
        else:
            categories = self._categories(reading, heads, hint)
        explanation.extend(e.sentence for e in self._top_evidence(reading))
        explanation.extend(reading.negated)
        explanation.extend(self._model_sentences(raw, categories, problem_type))
        explanation.append(why_type)
        primary = categories[0] if categories else None
        return Classification(categories, primary, problem_type, tuple(explanation))

    def _model_scores(
        self, normalised: str, position: str | None
    ) -> tuple[dict[str, HeadScores] | None, dict[str, list[float]] | None]:
        if self.model is None:
            return None, None
        ids = self.model.feature_ids(normalised, position)
        scores = self.model.score(ids)
        temperature = self.params.temperature * math.sqrt(max(len(ids), 1))
        return scores, {head: _softmax(s.logits, temperature) for head, s in scores.items()}

    def _problem_type(
        self,
        reading: Reading,
        heads: dict[str, list[float]] | None,
        position: str | None,
        unit: str | None,
    ) -> tuple[ProblemType, str]:
        p = self.params
        if reading.inspector or _accuses_inspector(position, unit):
            who = reading.inspector_phrase or "被反映单位为巡察机构"
            return (
                ProblemType.INSPECTOR_MISCONDUCT,
                f"被反映人是巡察人员（“{who}”）→反映巡察人员问题（第二十五条）",
            )
        scores = {
            pt: p.lexicon_problem_type * reading.problem_types.get(pt, 0.0) for pt in ProblemType
        }
        scores[ProblemType.INSPECTOR_MISCONDUCT] -= p.inspector
        official = reading.official or bool(position and position.strip())
        scores[ProblemType.VIOLATION_LEAD] += (
            p.violation_prior
            + p.misconduct * reading.misconduct
            + (p.official if official else 0.0)
        )
        if heads is not None:
            for pt, prob in zip(HEADS[PROBLEM_TYPE_HEAD], heads[PROBLEM_TYPE_HEAD], strict=True):
                scores[ProblemType(pt)] += p.model_problem_type * prob
        chosen = max(ProblemType, key=lambda pt: scores[pt])
        if chosen is ProblemType.VIOLATION_LEAD:
            why = (
                "举报反映的是公职人员的具体行为，按违纪违法问题线索处理"
                if official
                else ("未见私人或非党纪事项的积极证据，按违纪违法问题线索处理")
            )
        else:
            why = f"综合词语提示与统计模型→{chosen.label}"
        return chosen, why

    def _categories(
        self, reading: Reading, heads: dict[str, list[float]] | None, hint: Discipline | None
    ) -> tuple[Discipline, ...]:
        p = self.params
        scores = {d: reading.disciplines.get(d, 0.0) for d in Discipline}
        if heads is not None:
            for cls, prob in zip(HEADS[PRIMARY_HEAD], heads[PRIMARY_HEAD], strict=True):
                if cls != NONE_CLASS:
                    scores[Discipline(cls)] += p.model_discipline * prob
        if hint is not None:
            scores[hint] += p.hint
        ranked = sorted(Discipline, key=lambda d: (-scores[d], list(Discipline).index(d)))
        top = scores[ranked[0]]
        if top <= 0:
            return ()
        chosen = [ranked[0]]
        for d in ranked[1:3]:
            if reading.disciplines.get(d, 0.0) > 0 and scores[d] >= p.secondary_share * top:
                chosen.append(d)
        return tuple(chosen)

    @staticmethod
    def _top_evidence(reading: Reading) -> list[Evidence]:
        ranked = sorted(reading.evidence, key=lambda e: -e.weight)
        return ranked[:MAX_EVIDENCE_SENTENCES]

    def _model_sentences(
        self,
        scores: dict[str, HeadScores] | None,
        categories: tuple[Discipline, ...],
        problem_type: ProblemType,
    ) -> list[str]:
        if scores is None or self.model is None:
            return []
        sentences = []
        cls = categories[0].value if categories else NONE_CLASS
        grams = self.model.top_grams(PRIMARY_HEAD, cls, scores[PRIMARY_HEAD].feature_ids)
        if grams and categories:
            quoted = "、".join(f"“{g}”" for g in grams)
            sentences.append(f"统计模型权重最高的片段：{quoted}→{categories[0].label}")
        grams = self.model.top_grams(
            PROBLEM_TYPE_HEAD, problem_type.value, scores[PROBLEM_TYPE_HEAD].feature_ids
        )
        if grams:
            quoted = "、".join(f"“{g}”" for g in grams)
            sentences.append(f"统计模型权重最高的片段：{quoted}→{problem_type.label}")
        return sentences


@cache
def default_classifier() -> Classifier:
    """The classifier with the shipped lexicon and model, built once on first use."""
    return Classifier(load_lexicon(), shipped_model())


def classify(
    text: str,
    *,
    position: str | None = None,
    unit: str | None = None,
    hint: Discipline | None = None,
) -> Classification:
    """Classify one report under the 六项纪律 and 第十九条's problem types, with reasons."""
    return default_classifier().classify(text, position=position, unit=unit, hint=hint)
