"""The reviewable lexicon: terms, acts, objects and cues from ``routing/data/lexicon/*.tsv``.

Every file is plain tab-separated text a 巡察办 staff member can read and extend (see
``docs/classifier.md``). All phrases of all files go into one Aho–Corasick automaton, so a
report is scanned once however large the lexicon grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import ahocorasick

from routing.taxonomy import Discipline, ProblemType
from routing.textnorm import CLAUSE_MARKS, SENTENCE_ENDS

NO_VALUE = "-"


class LexiconError(ValueError):
    """A lexicon data file is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class TermRule:
    """One row of ``terms.tsv``: phrases that point at a discipline and/or a problem type."""

    phrases: tuple[str, ...]
    discipline: Discipline | None
    weight: float
    problem_type: ProblemType | None
    label: str


@dataclass(frozen=True, slots=True)
class ActRule:
    """One row of ``act_rules.tsv``: an act paired with an object in one sentence."""

    act: str
    obj: str
    discipline: Discipline
    weight: float
    label: str


# Cue kinds of cues.tsv, by their Chinese names in the file.
CUE_KINDS: dict[str, str] = {
    "否定词": "negation",
    "短否定词": "short_negation",
    "非否定": "not_negation",
    "公职": "official",
    "巡察人员": "inspector",
    "巡察行为": "inspector_act",
    "称呼巡察组": "inspector_address",
}

# Payload kinds stored in the automaton: (kind, detail).
TERM = "term"
ACT = "act"
OBJECT = "object"
BOUNDARY_CLAUSE = "clause"
BOUNDARY_SENTENCE = "sentence"

Payload = tuple[str, int | str]

# Cue kinds that annotate the text (who is accused) rather than read it: they neither hide
# the phrases inside them nor are hidden inside longer phrases.
ANNOTATIONS = frozenset({"official", "inspector", "inspector_act", "inspector_address"})


@dataclass(frozen=True, slots=True)
class Lexicon:
    terms: tuple[TermRule, ...]
    act_rules: tuple[ActRule, ...]
    acts: dict[str, tuple[str, ...]]
    objects: dict[str, tuple[str, ...]]
    cues: dict[str, tuple[str, ...]]
    automaton: ahocorasick.Automaton
    rules_by_act: dict[str, tuple[tuple[int, ActRule], ...]]  # act class → its act rules


def _rows(name: str, columns: int) -> list[tuple[int, list[str]]]:
    path = resources.files("routing").joinpath("data", "lexicon", name)
    rows: list[tuple[int, list[str]]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = [cell.strip() for cell in line.split("\t")]
        if len(cells) != columns:
            raise LexiconError(f"{name}:{number}: expected {columns} tab-separated columns")
        rows.append((number, cells))
    return rows


def _phrases(cell: str, where: str) -> tuple[str, ...]:
    phrases = tuple(p.strip() for p in cell.split("|") if p.strip())
    if not phrases:
        raise LexiconError(f"{where}: no phrase")
    return phrases


def _weight(cell: str, where: str) -> float:
    try:
        weight = float(cell)
    except ValueError:
        raise LexiconError(f"{where}: weight {cell!r} is not a number") from None
    if weight <= 0:
        raise LexiconError(f"{where}: weight must be positive")
    return weight


def _discipline(cell: str, where: str) -> Discipline | None:
    if cell == NO_VALUE:
        return None
    try:
        return Discipline(cell)
    except ValueError:
        raise LexiconError(f"{where}: unknown discipline {cell!r}") from None


def _problem_type(cell: str, where: str) -> ProblemType | None:
    if cell == NO_VALUE:
        return None
    try:
        return ProblemType(cell)
    except ValueError:
        raise LexiconError(f"{where}: unknown problem type {cell!r}") from None


def _read_terms() -> tuple[TermRule, ...]:
    rules = []
    for number, (phrases, discipline, weight, problem_type, label) in _rows("terms.tsv", 5):
        where = f"terms.tsv:{number}"
        rule = TermRule(
            phrases=_phrases(phrases, where),
            discipline=_discipline(discipline, where),
            weight=_weight(weight, where),
            problem_type=_problem_type(problem_type, where),
            label=label,
        )
        if rule.discipline is None and rule.problem_type is None:
            raise LexiconError(f"{where}: names neither a discipline nor a problem type")
        rules.append(rule)
    return tuple(rules)


def _read_classes(name: str) -> dict[str, tuple[str, ...]]:
    return {kind: _phrases(cell, f"{name}:{n}") for n, (kind, cell) in _rows(name, 2)}


def _read_act_rules(
    acts: dict[str, tuple[str, ...]], objects: dict[str, tuple[str, ...]]
) -> tuple[ActRule, ...]:
    rules = []
    for number, (act, obj, discipline, weight, label) in _rows("act_rules.tsv", 5):
        where = f"act_rules.tsv:{number}"
        if act not in acts:
            raise LexiconError(f"{where}: unknown act {act!r}")
        if obj not in objects:
            raise LexiconError(f"{where}: unknown object {obj!r}")
        found = _discipline(discipline, where)
        if found is None:
            raise LexiconError(f"{where}: an act rule must name a discipline")
        rules.append(ActRule(act, obj, found, _weight(weight, where), label))
    return tuple(rules)


def _read_cues() -> dict[str, tuple[str, ...]]:
    cues: dict[str, tuple[str, ...]] = {}
    for number, (kind, cell) in _rows("cues.tsv", 2):
        if kind not in CUE_KINDS:
            raise LexiconError(f"cues.tsv:{number}: unknown cue kind {kind!r}")
        cues[CUE_KINDS[kind]] = _phrases(cell, f"cues.tsv:{number}")
    return cues


def _build_automaton(
    terms: tuple[TermRule, ...],
    acts: dict[str, tuple[str, ...]],
    objects: dict[str, tuple[str, ...]],
    cues: dict[str, tuple[str, ...]],
) -> ahocorasick.Automaton:
    payloads: dict[str, list[Payload]] = {}

    def add(phrase: str, payload: Payload) -> None:
        bucket = payloads.setdefault(phrase, [])
        if payload not in bucket:
            bucket.append(payload)

    for index, rule in enumerate(terms):
        for phrase in rule.phrases:
            add(phrase, (TERM, index))
    for act, phrases in acts.items():
        for phrase in phrases:
            add(phrase, (ACT, act))
    for obj, phrases in objects.items():
        for phrase in phrases:
            add(phrase, (OBJECT, obj))
    for kind, phrases in cues.items():
        for phrase in phrases:
            add(phrase, (kind, 0))
    for mark in SENTENCE_ENDS:
        add(mark, (BOUNDARY_SENTENCE, 0))
    for mark in CLAUSE_MARKS:
        add(mark, (BOUNDARY_CLAUSE, 0))

    automaton = ahocorasick.Automaton()
    for phrase, bucket in payloads.items():
        # Stored with each phrase: its length, all its payloads, and those that only annotate
        # (see ANNOTATIONS) — precomputed so the scan does no per-match bookkeeping.
        notes = tuple(p for p in bucket if p[0] in ANNOTATIONS)
        automaton.add_word(phrase, (len(phrase), tuple(bucket), notes, len(notes) < len(bucket)))
    automaton.make_automaton()
    return automaton


@cache
def load_lexicon() -> Lexicon:
    """Read and check every lexicon file once; raise :class:`LexiconError` on a bad row."""
    terms = _read_terms()
    acts = _read_classes("acts.tsv")
    objects = _read_classes("objects.tsv")
    cues = _read_cues()
    act_rules = _read_act_rules(acts, objects)
    automaton = _build_automaton(terms, acts, objects, cues)
    rules_by_act = {
        act: tuple((i, rule) for i, rule in enumerate(act_rules) if rule.act == act) for act in acts
    }
    return Lexicon(terms, act_rules, acts, objects, cues, automaton, rules_by_act)
