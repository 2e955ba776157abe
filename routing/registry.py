"""What the router knows about the county: units, rounds, groups and 回避.

The database layer builds a :class:`Registry` and passes it in; nothing here
reads storage. Unit matching turns the free text a reporter typed ("教育局",
"青岚县教育局基建股") into a registered unit, or into no unit when the text is
ambiguous, so that a lead is never sent to the wrong 巡察组 on a guess.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from itertools import pairwise
from types import MappingProxyType

ROUND_KINDS: dict[str, str] = {"regular": "常规", "special": "专项"}

OFFICE_BODY_ID = "inspection_office"
OFFICE_NAME = "县委巡察办"

# A normalised or containment match needs at least this many characters of a
# unit name, so that a short remainder ("医院") does not claim every hospital.
_MIN_CONTAINED = 3


class RegistryError(ValueError):
    """The registry data contradict themselves."""


class RoundConflict(RegistryError):
    """One unit is assigned to two groups at the same time."""

    def __init__(self, unit_id: str, groups: tuple[str, ...], round_names: tuple[str, ...]) -> None:
        self.unit_id = unit_id
        self.groups = groups
        self.round_names = round_names
        where = "、".join(dict.fromkeys(round_names))
        super().__init__(f"单位“{unit_id}”在{where}中同时分配给{'和'.join(groups)}")


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit that can be inspected (被巡察单位); ``kind`` is free text such as 局 or 镇."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    kind: str = ""


@dataclass(frozen=True, slots=True)
class GroupAssignment:
    """One 巡察组 and the units it inspects in a round."""

    group_body_id: str
    group_name: str
    unit_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Round:
    """A round of inspection (常规 ``regular`` or 专项 ``special``), ``start``–``end`` inclusive."""

    id: str
    name: str
    kind: str
    start: date
    end: date
    assignments: tuple[GroupAssignment, ...]

    def __post_init__(self) -> None:
        if self.kind not in ROUND_KINDS:
            raise RegistryError(f"巡察类型必须是常规或专项，而不是“{self.kind}”")
        if self.start > self.end:
            raise RegistryError(f"{self.name}的开始日期晚于结束日期")
        check_assignments(self.assignments, round_name=self.name)

    def is_active(self, day: date) -> bool:
        return self.start <= day <= self.end

    def assignment_for(self, unit_id: str) -> GroupAssignment | None:
        for assignment in self.assignments:
            if unit_id in assignment.unit_ids:
                return assignment
        return None


@dataclass(frozen=True, slots=True)
class Recusal:
    """User ``user_id`` must not see leads about unit ``unit_id`` (第八条 回避)."""

    user_id: str
    unit_id: str


def check_assignments(assignments: Iterable[GroupAssignment], *, round_name: str = "") -> None:
    """Raise :class:`RoundConflict` if a round gives one unit to two groups."""
    seen: dict[str, GroupAssignment] = {}
    for assignment in assignments:
        for unit_id in assignment.unit_ids:
            other = seen.setdefault(unit_id, assignment)
            if other.group_body_id != assignment.group_body_id:
                raise RoundConflict(
                    unit_id, (other.group_name, assignment.group_name), (round_name,)
                )


class MatchKind(StrEnum):
    NAME = "name"
    ALIAS = "alias"
    NORMALISED = "normalised"
    CONTAINED = "contained"
    AMBIGUOUS = "ambiguous"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class UnitMatch:
    """The outcome of matching free text to a unit, with a sentence saying how."""

    unit: Unit | None
    kind: MatchKind
    candidates: tuple[Unit, ...]
    explanation: str


# Everything that is not part of a name: punctuation, spaces, symbols, controls.
_NON_WORD = re.compile(r"[\W_]+")
# "示范县教育局", "青岚县教育局" and "教育局" all mean the county's own 县教育局.
_COUNTY_PREFIX = re.compile(r"^(?:[^县]{1,3}县)?县?")


def fold(text: str) -> str:
    """NFKC, case-folded, with each run of punctuation/space turned into one space."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def name_key(text: str) -> str:
    """The comparison form of a whole name: folded, without separators."""
    return fold(text).replace(" ", "")


def core_key(text: str) -> str:
    """:func:`name_key` without a leading county name or 县 ("青岚县教育局" → "教育局")."""
    return _strip_county(name_key(text))


def _strip_county(key: str) -> str:
    return _COUNTY_PREFIX.sub("", key, count=1)


@dataclass(frozen=True, slots=True)
class _Occurrence:
    start: int
    end: int
    unit: Unit


@dataclass(frozen=True, slots=True)
class _UnitIndex:
    by_name: Mapping[str, tuple[Unit, ...]]
    by_alias: Mapping[str, tuple[Unit, ...]]
    by_core: Mapping[str, tuple[Unit, ...]]
    cores: tuple[tuple[str, Unit], ...]

    @classmethod
    def build(cls, units: Iterable[Unit]) -> _UnitIndex:
        by_name: dict[str, list[Unit]] = {}
        by_alias: dict[str, list[Unit]] = {}
        by_core: dict[str, list[Unit]] = {}
        cores: list[tuple[str, Unit]] = []
        for unit in units:
            by_name.setdefault(name_key(unit.name), []).append(unit)
            for alias in unit.aliases:
                by_alias.setdefault(name_key(alias), []).append(unit)
            labels = (unit.name, *unit.aliases)
            # Short remainders ("县医院" → "医院") are too generic to stand for a unit.
            for core in dict.fromkeys(core_key(label) for label in labels):
                if len(core) >= _MIN_CONTAINED:
                    by_core.setdefault(core, []).append(unit)
            for key in dict.fromkeys(k(label) for label in labels for k in (name_key, core_key)):
                if len(key) >= _MIN_CONTAINED:
                    cores.append((key, unit))

        def frozen(index: dict[str, list[Unit]]) -> Mapping[str, tuple[Unit, ...]]:
            return MappingProxyType({k: tuple(dict.fromkeys(v)) for k, v in index.items()})

        return cls(frozen(by_name), frozen(by_alias), frozen(by_core), tuple(cores))

    def match(self, text: str) -> UnitMatch:
        folded = fold(text)
        key = folded.replace(" ", "")
        if not key:
            return UnitMatch(None, MatchKind.NONE, (), "未填写被反映单位")
        for kind, index, value in (
            (MatchKind.NAME, self.by_name, key),
            (MatchKind.ALIAS, self.by_alias, key),
            (MatchKind.NORMALISED, self.by_core, _strip_county(key)),
        ):
            if found := index.get(value, ()):
                return _verdict(found, kind)
        return self._match_contained(folded)

    def _match_contained(self, folded: str) -> UnitMatch:
        occurrences = [
            _Occurrence(start, start + len(core), unit)
            for core, unit in self.cores
            for start in _find_all(folded, core)
        ]
        # "县教育局" inside "县教育局基建股" and "教育局" inside it are one mention:
        # keep only occurrences that no other, longer occurrence encloses.
        outer = [
            o
            for o in occurrences
            if not any(
                p.start <= o.start and o.end <= p.end and (p.end - p.start) > (o.end - o.start)
                for p in occurrences
            )
        ]
        units = tuple(dict.fromkeys(o.unit for o in sorted(outer, key=lambda o: o.start)))
        if len(units) <= 1:
            return _verdict(units, MatchKind.CONTAINED)
        # "青山镇东风村": names written back to back go from larger to smaller,
        # so the last one is the unit meant. Names apart are truly ambiguous.
        chain = sorted({(o.start, o.end, o.unit.id): o for o in outer}.values(), key=_span)
        if all(a.end == b.start for a, b in pairwise(chain)):
            last = chain[-1].unit
            return UnitMatch(
                last,
                MatchKind.CONTAINED,
                units,
                f"被反映单位逐级书写，取最末一级“{last.name}”",
            )
        return _verdict(units, MatchKind.CONTAINED)


def _find_all(text: str, part: str) -> list[int]:
    starts = []
    start = text.find(part)
    while start != -1:
        starts.append(start)
        start = text.find(part, start + 1)
    return starts


def _span(o: _Occurrence) -> tuple[int, int]:
    return (o.start, o.end)


_HOW = {
    MatchKind.NAME: "按名称",
    MatchKind.ALIAS: "按别名",
    MatchKind.NORMALISED: "按规范化名称",
    MatchKind.CONTAINED: "按所含单位名称",
}


def _verdict(units: tuple[Unit, ...], kind: MatchKind) -> UnitMatch:
    # Explanations name registered units only, never the reporter's own words:
    # what the reporter typed is case content and stays inside the envelope.
    if not units:
        return UnitMatch(None, MatchKind.NONE, (), "被反映单位未匹配到登记单位")
    if len(units) > 1:
        names = "、".join(u.name for u in units)
        return UnitMatch(
            None,
            MatchKind.AMBIGUOUS,
            units,
            f"被反映单位可能是{names}，无法确定，不按单位分派",
        )
    unit = units[0]
    return UnitMatch(unit, kind, units, f"被反映单位{_HOW[kind]}匹配为“{unit.name}”")


@dataclass(frozen=True, slots=True)
class Registry:
    """Units, rounds, recusals and group membership, as of one moment.

    ``group_members`` maps a body id (a 巡察组, or the office) to its users.
    Construction checks the data: unit ids are unique, rounds name known
    units, and no unit is with two groups on the same day.
    """

    units: tuple[Unit, ...]
    rounds: tuple[Round, ...]
    recusals: tuple[Recusal, ...]
    office_body_id: str
    office_name: str
    group_members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    _index: _UnitIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "group_members", MappingProxyType(dict(self.group_members)))
        counts = Counter(u.id for u in self.units)
        if duplicates := sorted(i for i, n in counts.items() if n > 1):
            raise RegistryError(f"单位编号重复：{'、'.join(duplicates)}")
        for round_ in self.rounds:
            for assignment in round_.assignments:
                if unknown := [u for u in assignment.unit_ids if u not in counts]:
                    raise RegistryError(
                        f"{round_.name}{assignment.group_name}分配了未登记的单位："
                        f"{'、'.join(unknown)}"
                    )
        _check_overlapping_rounds(self.rounds)
        object.__setattr__(self, "_index", _UnitIndex.build(self.units))

    @classmethod
    def empty(cls) -> Registry:
        """No units and no rounds: every lead goes to the office (县委巡察办)."""
        return cls((), (), (), OFFICE_BODY_ID, OFFICE_NAME)

    def unit(self, unit_id: str) -> Unit | None:
        return next((u for u in self.units if u.id == unit_id), None)

    def match_unit(self, text: str | None) -> UnitMatch:
        """Match reporter text to one unit: name, alias, normalised name, containment."""
        return self._index.match(text or "")

    def active_rounds(self, day: date) -> tuple[Round, ...]:
        return tuple(r for r in self.rounds if r.is_active(day))

    def inspecting_group(self, unit_id: str, day: date) -> tuple[Round, GroupAssignment] | None:
        """The round active on ``day`` (bounds inclusive) and the group covering the unit."""
        for round_ in self.active_rounds(day):
            if assignment := round_.assignment_for(unit_id):
                return round_, assignment
        return None

    def recused_users(self, unit_id: str) -> frozenset[str]:
        """Every user who must not see leads about the unit, whatever body they are in."""
        return frozenset(r.user_id for r in self.recusals if r.unit_id == unit_id)

    def members(self, body_id: str) -> tuple[str, ...]:
        return self.group_members.get(body_id, ())


def _check_overlapping_rounds(rounds: tuple[Round, ...]) -> None:
    for i, first in enumerate(rounds):
        for second in rounds[i + 1 :]:
            if first.end < second.start or second.end < first.start:
                continue
            for a in first.assignments:
                for b in second.assignments:
                    if shared := [u for u in a.unit_ids if u in b.unit_ids]:
                        raise RoundConflict(
                            shared[0], (a.group_name, b.group_name), (first.name, second.name)
                        )
