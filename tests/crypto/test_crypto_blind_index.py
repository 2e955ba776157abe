from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import BlindIndexInputError, blind_index, normalise_for_index

KEY = bytes(range(32))


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("张三", "张三"),
        (" 张 三 ", "张三"),
        ("张·三", "张三"),
        ("张-三。", "张三"),
        ("ＬＩ Ｍｉｎｇ", "liming"),
        ("Li Ming", "liming"),
        ("县教育局（办公室）", "县教育局办公室"),
        ("王五２号", "王五2号"),
    ],
)
def test_normalisation(typed: str, normal: str) -> None:
    assert normalise_for_index(typed) == normal


def test_same_person_typed_differently_matches() -> None:
    first = blind_index(KEY, "张三", "县教育局")
    assert blind_index(KEY, " 张　三 ", "县教育局 ") == first
    assert blind_index(KEY, "张·三", "县教育局。") == first
    assert re.fullmatch(r"[0-9a-f]{64}", first)


def test_different_person_unit_or_key_does_not_match() -> None:
    first = blind_index(KEY, "张三", "县教育局")
    assert blind_index(KEY, "张四", "县教育局") != first
    assert blind_index(KEY, "张三", "县财政局") != first
    assert blind_index(bytes(32), "张三", "县教育局") != first


def test_name_and_unit_cannot_trade_characters() -> None:
    assert blind_index(KEY, "张三县", "教育局") != blind_index(KEY, "张三", "县教育局")


def test_unit_may_be_empty_but_name_may_not() -> None:
    assert blind_index(KEY, "张三", "") != blind_index(KEY, "张三", "县教育局")
    with pytest.raises(BlindIndexInputError):
        blind_index(KEY, " ·-。 ", "县教育局")


def test_very_long_input_is_accepted() -> None:
    assert len(blind_index(KEY, "名" * 30000, "单位" * 30000)) == 64


@given(st.text(max_size=40))
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalise_for_index(text)
    assert normalise_for_index(once) == once
