"""The rule-based reading of one report: lexicon terms, act–object pairs, negation, roles.

Scope rules, in one place:

* a *sentence* ends at 。！？； or a line break; an act and its object pair only inside one;
* a *clause* also ends at a comma, colon, enumeration comma or quotation mark; a negation
  word (没有, 并未, 不存在, 不是, 从未 …) negates the terms after it up to the clause end, a
  one-character negation (没, 不, 未 …) only the next few characters (“没收”, “不给办” as a
  lexicon term of its own is not negated: a phrase inside a longer matched phrase is ignored);
* the report of an inspector's misconduct needs an inspector named as the actor (巡察组组长,
  巡察人员 …) followed, in that sentence or the next, by an act or a disciplinary term.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from routing.lexicon import (
    ACT,
    BOUNDARY_CLAUSE,
    BOUNDARY_SENTENCE,
    OBJECT,
    TERM,
    ActRule,
    Lexicon,
)
from routing.taxonomy import Discipline, ProblemType

SHORT_NEGATION_REACH = 4
MAX_PHRASES_SHOWN = 3


@dataclass(slots=True)
class Evidence:
    """One rule that fired: its weight, what it points at, and a sentence for people."""

    weight: float
    discipline: Discipline | None
    problem_type: ProblemType | None
    sentence: str
    phrases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Reading:
    disciplines: dict[Discipline, float] = field(default_factory=dict)
    problem_types: dict[ProblemType, float] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    negated: list[str] = field(default_factory=list)
    negated_spans: list[tuple[int, int]] = field(default_factory=list)  # cue start, phrase end
    misconduct: float = 0.0  # weight of disciplinary terms that carry no problem-type hint
    official: bool = False
    inspector: bool = False
    inspector_phrase: str = ""

    def add(self, evidence: Evidence) -> None:
        self.evidence.append(evidence)
        if evidence.discipline is not None:
            self.disciplines[evidence.discipline] = (
                self.disciplines.get(evidence.discipline, 0.0) + evidence.weight
            )
            if evidence.problem_type is None:
                self.misconduct += evidence.weight
        if evidence.problem_type is not None:
            self.problem_types[evidence.problem_type] = (
                self.problem_types.get(evidence.problem_type, 0.0) + evidence.weight
            )


def _target(discipline: Discipline | None, problem_type: ProblemType | None, label: str) -> str:
    kind = (
        discipline.label if discipline is not None else problem_type.label if problem_type else ""
    )
    return f"{kind}（{label}）"


Match = tuple[int, int, tuple[tuple[str, int | str], ...]]


def _matches(text: str, lexicon: Lexicon) -> list[Match]:
    """All lexicon matches as (start, end, payloads); a phrase inside a longer one is dropped
    (“不给办” hides its “不”), except for the annotations."""
    # Sorting by (start, −end) puts a longer phrase before the phrases inside it.
    found = [(end - value[0] + 1, -end, value) for end, value in lexicon.automaton.iter(text)]
    found.sort()
    kept: list[Match] = []
    reach = -1
    for start, negative_end, (_, payloads, notes, blocks) in found:
        end = -negative_end
        if end > reach:
            if blocks:
                reach = end
            kept.append((start, end, payloads))
        elif notes:
            kept.append((start, end, notes))
    return kept


def mask_negated(text: str, reading: Reading) -> str:
    """``text`` with the negated phrases and their negation words blanked out, so that the
    n-gram model does not count “没有收红包” as evidence of taking a red envelope either."""
    if not reading.negated_spans:
        return text
    chars = list(text)
    for start, end in reading.negated_spans:
        chars[start : end + 1] = " " * (end + 1 - start)
    return "".join(chars)


class _Scanner:
    """Walks the matches of one text in order, keeping the clause and sentence state."""

    def __init__(self, text: str, lexicon: Lexicon) -> None:
        self.text = text
        self.lexicon = lexicon
        self.reading = Reading()
        self.fired_terms: dict[int, Evidence] = {}
        self.fired_acts: set[int] = set()
        self.negated_seen: set[str] = set()
        self._reset_clause()
        self._reset_sentence()
        self.inspector_sentences_left = 0

    def _reset_clause(self) -> None:
        self.negation_from = -1
        self.negation_start = -1
        self.negation_cue = ""
        self.short_start = -1
        self.short_from = -1
        self.short_until = -1
        self.short_cue = ""

    def _reset_sentence(self) -> None:
        self.acts: list[tuple[str, str]] = []
        self.objects: dict[str, str] = {}

    def _negation(self, start: int) -> tuple[str, int]:
        """The negation word that covers a phrase starting at ``start``, and where it starts."""
        if 0 <= self.negation_from <= start:
            return self.negation_cue, self.negation_start
        if self.short_from <= start <= self.short_until:
            return self.short_cue, self.short_start
        return "", -1

    def _note_negated(self, cue: str, phrase: str) -> None:
        sentence = f"“{cue}…{phrase}”在否定范围内，未计入"
        if sentence not in self.negated_seen:
            self.negated_seen.add(sentence)
            self.reading.negated.append(sentence)

    def scan(self) -> Reading:
        text = self.text
        for start, end, payloads in _matches(text, self.lexicon):
            first = payloads[0][0]
            if first == BOUNDARY_CLAUSE:  # punctuation: most matches, so handled first
                self._reset_clause()
                continue
            if first == BOUNDARY_SENTENCE:
                self._close_sentence()
                self._reset_clause()
                continue
            phrase = text[start : end + 1]
            for kind, detail in payloads:
                self._visit(kind, detail, start, end, phrase)
        self._close_sentence()
        return self.reading

    def _visit(self, kind: str, detail: int | str, start: int, end: int, phrase: str) -> None:
        if kind == BOUNDARY_SENTENCE:
            self._close_sentence()
            self._reset_clause()
            return
        if kind == BOUNDARY_CLAUSE:
            self._reset_clause()
            return
        if kind == "negation":
            self.negation_from, self.negation_cue = end + 1, phrase
            self.negation_start = start
            return
        if kind == "short_negation":
            self.short_from, self.short_until = end + 1, end + SHORT_NEGATION_REACH
            self.short_cue, self.short_start = phrase, start
            return
        if kind == "official":
            self.reading.official = True
            return
        cue, cue_start = self._negation(start)
        if cue:
            if kind in (TERM, ACT, OBJECT, "inspector_act"):
                self.reading.negated_spans.append((cue_start, end))
                if kind != OBJECT:
                    self._note_negated(cue, phrase)
            return
        if kind == "inspector":
            self.inspector_sentences_left = 2
            self.reading.inspector_phrase = self.reading.inspector_phrase or phrase
        elif kind == TERM:
            self._fire_term(int(detail), phrase)
        elif kind == ACT:
            self.acts.append((str(detail), phrase))
        elif kind == OBJECT:
            self.objects.setdefault(str(detail), phrase)
        elif kind == "inspector_act":
            self._inspector_acted()

    def _inspector_acted(self) -> None:
        if self.inspector_sentences_left > 0:
            self.reading.inspector = True

    def _fire_term(self, index: int, phrase: str) -> None:
        rule = self.lexicon.terms[index]
        if rule.discipline is not None:
            self._inspector_acted()
        target = _target(rule.discipline, rule.problem_type, rule.label)
        fired = self.fired_terms.get(index)
        if fired is None:
            evidence = Evidence(rule.weight, rule.discipline, rule.problem_type, "", [phrase])
            self.fired_terms[index] = evidence
            self.reading.add(evidence)
        elif phrase not in fired.phrases and len(fired.phrases) < MAX_PHRASES_SHOWN:
            fired.phrases.append(phrase)  # one rule counts once, but shows what it saw
        else:
            return
        evidence = self.fired_terms[index]
        quoted = "".join(f"“{p}”" for p in evidence.phrases)
        evidence.sentence = f"{quoted}→{target}"

    def _close_sentence(self) -> None:
        rules_by_act = self.lexicon.rules_by_act
        for act, act_phrase in self.acts:
            for index, rule in rules_by_act[act]:
                if rule.obj not in self.objects:
                    continue
                self._inspector_acted()
                if index not in self.fired_acts:
                    self.fired_acts.add(index)
                    self._fire_act(rule, act_phrase, self.objects[rule.obj])
        if self.inspector_sentences_left > 0:
            self.inspector_sentences_left -= 1
        self._reset_sentence()

    def _fire_act(self, rule: ActRule, act_phrase: str, obj_phrase: str) -> None:
        target = _target(rule.discipline, None, rule.label)
        sentence = f"“{act_phrase}…{obj_phrase}”→{target}"
        self.reading.add(Evidence(rule.weight, rule.discipline, None, sentence))


def read_report(text: str, lexicon: Lexicon) -> Reading:
    """Read a normalised text with the lexicon; see the module docstring for the scopes."""
    return _Scanner(text, lexicon).scan()
