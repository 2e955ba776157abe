"""The lexicon data files: they load, and every entry names a valid key."""

from __future__ import annotations

from importlib import resources

from routing.lexicon import CUE_KINDS, load_lexicon
from routing.taxonomy import Discipline, ProblemType
from routing.textnorm import normalise


def test_lexicon_files_load_and_name_valid_disciplines() -> None:
    lexicon = load_lexicon()
    assert lexicon.terms
    covered = {rule.discipline for rule in lexicon.terms if rule.discipline is not None}
    assert covered == set(Discipline)  # every one of the 六项纪律 has rules
    for rule in lexicon.terms:
        assert rule.discipline is None or isinstance(rule.discipline, Discipline)
        assert rule.problem_type is None or isinstance(rule.problem_type, ProblemType)
        assert rule.weight > 0
        assert rule.label
        assert all(phrase.strip() == phrase and phrase for phrase in rule.phrases)
    for act_rule in lexicon.act_rules:
        assert isinstance(act_rule.discipline, Discipline)
        assert act_rule.act in lexicon.acts
        assert act_rule.obj in lexicon.objects
    assert set(lexicon.cues) == set(CUE_KINDS.values())


def test_lexicon_phrases_are_written_as_the_classifier_reads_them() -> None:
    # Phrases are matched against normalised text: a traditional or upper-case phrase in a
    # data file would never match.
    lexicon = load_lexicon()
    phrases = [p for rule in lexicon.terms for p in rule.phrases]
    phrases += [
        p
        for group in (lexicon.acts, lexicon.objects, lexicon.cues)
        for ps in group.values()
        for p in ps
    ]
    unmatched = [p for p in phrases if normalise(p) != p]
    assert unmatched == []


def test_traditional_table_covers_common_characters() -> None:
    table = resources.files("routing").joinpath("data", "t2s.tsv").read_text(encoding="utf-8")
    assert "Apache-2.0" in table.splitlines()[1]  # its source and licence stay on record
    assert normalise("貪污受賄，紅包禮金，幹部說話") == "贪污受贿，红包礼金，干部说话"


def test_full_width_letters_and_digits_become_ascii() -> None:
    assert normalise("ＫＴＶ２０万") == "ktv20万"
    assert len(normalise("紅包！")) == len("紅包！")
