from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import (
    CaseField,
    CaseKey,
    DecryptionFailed,
    open_field,
    open_text,
    padded_size,
    seal_field,
    seal_text,
    unwrap_case_key_for_reporter,
    wrap_case_key_for_reporter,
)
from crypto.envelope import field_aad, pad, unpad

Flip = Callable[[bytes, int], bytes]


def test_text_round_trip_keeps_chinese(case_key: CaseKey) -> None:
    text = "县教育局某科长收受红包，金额约两万元。"
    sealed = seal_text(case_key, "c-7f3a", CaseField.TEXT, text)
    assert open_text(case_key, "c-7f3a", CaseField.TEXT, sealed) == text


@given(plaintext=st.binary(max_size=5000))
def test_field_round_trip_any_bytes(plaintext: bytes) -> None:
    key = CaseKey.generate()
    sealed = seal_field(key, "case", "staff_note", plaintext)
    assert open_field(key, "case", "staff_note", sealed) == plaintext


@given(length=st.integers(min_value=0, max_value=3 * 1024 * 1024))
def test_padding_bucket_is_a_power_of_two_or_whole_mib(length: int) -> None:
    size = padded_size(length)
    assert size > length
    if size <= 1024 * 1024:
        assert size >= 256
        assert size & (size - 1) == 0
        assert size == 256 or size // 2 <= length  # smallest bucket that fits
    else:
        assert size % (1024 * 1024) == 0
        assert size - 1024 * 1024 <= length


def test_ciphertext_length_only_shows_the_bucket(case_key: CaseKey) -> None:
    short = seal_text(case_key, "c", "text", "短")
    longer = seal_text(case_key, "c", "text", "稍微长一点的举报内容" * 5)
    assert len(short) == len(longer) == 1 + 12 + 256 + 16


def test_unpad_rejects_missing_marker() -> None:
    assert unpad(pad(b"abc")) == b"abc"
    with pytest.raises(DecryptionFailed):
        unpad(bytes(256))
    with pytest.raises(DecryptionFailed):
        unpad(b"abc\x81\x00")


def test_every_flipped_byte_fails_closed(case_key: CaseKey, flip: Flip) -> None:
    sealed = seal_text(case_key, "c1", "text", "举报内容")
    for index in range(len(sealed)):
        with pytest.raises(DecryptionFailed):
            open_field(case_key, "c1", "text", flip(sealed, index))


def test_swapped_fields_and_cases_fail(case_key: CaseKey) -> None:
    accused = seal_text(case_key, "c1", CaseField.ACCUSED, "张三")
    with pytest.raises(DecryptionFailed):
        open_text(case_key, "c1", CaseField.CONTACT, accused)
    with pytest.raises(DecryptionFailed):
        open_text(case_key, "c2", CaseField.ACCUSED, accused)
    with pytest.raises(DecryptionFailed):
        open_text(CaseKey.generate(), "c1", CaseField.ACCUSED, accused)


def test_aad_is_unambiguous() -> None:
    # Length prefixes: moving bytes between case id and field name changes the AAD.
    assert field_aad("ab", "c") != field_aad("a", "bc")
    assert field_aad("a", "b", version=2) != field_aad("a", "b")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b"",
        lambda b: b[:1],
        lambda b: b[:20],
        lambda b: b[:-1],
        lambda b: b"\x02" + b[1:],
        lambda b: b + b"\x00",
    ],
    ids=["empty", "version-only", "short", "truncated", "future-version", "extended"],
)
def test_malformed_blobs_fail_closed(case_key: CaseKey, mangle) -> None:  # type: ignore[no-untyped-def]
    sealed = seal_text(case_key, "c", "text", "内容")
    with pytest.raises(DecryptionFailed):
        open_field(case_key, "c", "text", mangle(sealed))


def test_decryption_failed_says_nothing(case_key: CaseKey) -> None:
    with pytest.raises(DecryptionFailed) as caught:
        open_field(case_key, "c", "text", b"\x01" + bytes(40))
    assert str(caught.value) == "decryption failed"
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_invalid_utf8_is_a_decryption_failure(case_key: CaseKey) -> None:
    sealed = seal_field(case_key, "c", "text", b"\xff\xfe")
    with pytest.raises(DecryptionFailed):
        open_text(case_key, "c", "text", sealed)


def test_identifiers_must_be_present(case_key: CaseKey) -> None:
    with pytest.raises(ValueError, match="identifiers"):
        seal_text(case_key, "", "text", "x")
    with pytest.raises(ValueError, match="identifiers"):
        seal_text(case_key, "c", "x" * 70000, "x")


def test_case_key_hides_itself_and_checks_length() -> None:
    key = CaseKey.generate()
    assert key.secret.hex() not in repr(key)
    assert repr(key) == "CaseKey()"
    with pytest.raises(ValueError, match="32 bytes"):
        CaseKey(b"short")


def test_reporter_wrap_round_trip_and_binding(case_key: CaseKey, flip: Flip) -> None:
    reporter_key = bytes(range(32))
    wrapped = wrap_case_key_for_reporter(case_key, "c1", reporter_key)
    assert unwrap_case_key_for_reporter(wrapped, "c1", reporter_key) == case_key
    with pytest.raises(DecryptionFailed):
        unwrap_case_key_for_reporter(wrapped, "c2", reporter_key)
    with pytest.raises(DecryptionFailed):
        unwrap_case_key_for_reporter(wrapped, "c1", bytes(32))
    with pytest.raises(DecryptionFailed):
        unwrap_case_key_for_reporter(flip(wrapped, 0), "c1", reporter_key)
    with pytest.raises(DecryptionFailed):
        unwrap_case_key_for_reporter(b"", "c1", reporter_key)
