from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import (
    Argon2Params,
    CaseKey,
    ReceiptFormatError,
    derive_receipt_keys,
    format_receipt,
    generate_receipt,
    normalise_receipt,
    unwrap_case_key_for_reporter,
    wrap_case_key_for_reporter,
)

RECEIPT = "12345678901234567890"
SALT = bytes(range(32))
PEPPER = bytes(range(32, 64))


def test_generated_receipts_are_20_digits_and_differ() -> None:
    receipts = {generate_receipt() for _ in range(50)}
    assert len(receipts) == 50
    assert all(re.fullmatch(r"\d{20}", r) for r in receipts)


def test_generated_receipts_keep_leading_zeros(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crypto.receipts.secrets.randbelow", lambda bound: 42)
    assert generate_receipt() == "00000000000000000042"


def test_every_receipt_position_takes_every_digit() -> None:
    receipts = [generate_receipt() for _ in range(2000)]
    for position in range(20):
        assert {r[position] for r in receipts} == set("0123456789")


def test_format_groups_by_four() -> None:
    assert format_receipt(RECEIPT) == "1234 5678 9012 3456 7890"
    assert format_receipt("1234-5678-9012-3456-7890") == "1234 5678 9012 3456 7890"


@pytest.mark.parametrize(
    "typed",
    [
        "1234 5678 9012 3456 7890",
        "1234-5678-9012-3456-7890",
        " 1234—5678–9012－3456ー7890 ",
        "１２３４５６７８９０１２３４５６７８９０",  # full-width digits from a Chinese IME
        "１２３４　５６７８　９０１２　３４５６　７８９０",  # with ideographic spaces
        "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠",  # Arabic-Indic digits are decimal digits too
        "1234\t5678\n9012_3456\u22127890",
    ],
)
def test_typed_forms_normalise_to_ascii_digits(typed: str) -> None:
    assert normalise_receipt(typed) == RECEIPT


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "length"),
        ("1234 5678", "length"),
        (RECEIPT + "1", "length"),
        (RECEIPT * 100, "length"),
        ("1234 5678 9012 3456 789O", "character"),  # letter O
        (
            "一二三四五六七八九〇一二三四五六七八九〇",
            "character",
        ),  # Chinese numerals are not digits
        ("1234.5678.9012.3456.7890", "character"),
        ("①②③④⑤⑥⑦⑧⑨⑩①②③④⑤⑥⑦⑧⑨⑩", "character"),
    ],
)
def test_anything_else_is_refused_with_a_friendly_message(typed: str, reason: str) -> None:
    with pytest.raises(ReceiptFormatError) as caught:
        normalise_receipt(typed)
    assert caught.value.reason == reason
    message = str(caught.value)
    assert "回执码" in message
    assert "receipt code" in message
    assert "0" not in message.replace("20", "")  # the input is never echoed


@given(st.text(alphabet="0123456789 -", max_size=40))
def test_normalise_is_idempotent_or_refuses(typed: str) -> None:
    try:
        digits = normalise_receipt(typed)
    except ReceiptFormatError:
        assert sum(ch.isdigit() for ch in typed) != 20
    else:
        assert normalise_receipt(digits) == digits
        assert normalise_receipt(format_receipt(digits)) == digits


def test_keys_depend_on_receipt_salt_and_pepper(weak_argon2: Argon2Params) -> None:
    base = derive_receipt_keys(RECEIPT, site_salt=SALT, pepper=PEPPER, params=weak_argon2)
    again = derive_receipt_keys(
        format_receipt(RECEIPT), site_salt=SALT, pepper=PEPPER, params=weak_argon2
    )
    assert base == again
    assert re.fullmatch(r"[0-9a-f]{64}", base.lookup_id)
    assert len(base.reporter_key) == 32
    others = [
        derive_receipt_keys("1" * 20, site_salt=SALT, pepper=PEPPER, params=weak_argon2),
        derive_receipt_keys(RECEIPT, site_salt=PEPPER, pepper=PEPPER, params=weak_argon2),
    ]
    for other in others:
        assert other.lookup_id != base.lookup_id
        assert other.reporter_key != base.reporter_key
    peppered = derive_receipt_keys(RECEIPT, site_salt=SALT, pepper=SALT, params=weak_argon2)
    assert peppered.lookup_id != base.lookup_id
    assert peppered.reporter_key == base.reporter_key  # the pepper guards the lookup only


def test_reporter_key_opens_the_case(weak_argon2: Argon2Params) -> None:
    keys = derive_receipt_keys(RECEIPT, site_salt=SALT, pepper=PEPPER, params=weak_argon2)
    case_key = CaseKey.generate()
    wrapped = wrap_case_key_for_reporter(case_key, "c", keys.reporter_key)
    typed = derive_receipt_keys(
        "１２３４ ５６７８ ９０１２ ３４５６ ７８９０",
        site_salt=SALT,
        pepper=PEPPER,
        params=weak_argon2,
    )
    assert unwrap_case_key_for_reporter(wrapped, "c", typed.reporter_key) == case_key


def test_repr_hides_the_reporter_key(weak_argon2: Argon2Params) -> None:
    keys = derive_receipt_keys(RECEIPT, site_salt=SALT, pepper=PEPPER, params=weak_argon2)
    assert keys.reporter_key.hex() not in repr(keys)
    assert "reporter_key" not in repr(keys)


def test_parallel_derivations_agree(weak_argon2: Argon2Params) -> None:
    params = Argon2Params(memory_kib=1024, iterations=1, lanes=1)
    receipts = [generate_receipt() for _ in range(8)]

    def derive(receipt: str) -> str:
        return derive_receipt_keys(receipt, site_salt=SALT, pepper=PEPPER, params=params).lookup_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(derive, receipts))
    assert parallel == [derive(r) for r in receipts]
