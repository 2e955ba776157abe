from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import (
    Argon2Params,
    DecryptionFailed,
    KeyPair,
    RecoveryCodeFormatError,
    generate_recovery_code,
    normalise_recovery_code,
    unwrap_user_key_with_password,
    unwrap_user_key_with_recovery_code,
    wrap_user_key_with_password,
    wrap_user_key_with_recovery_code,
)

Flip = Callable[[bytes, int], bytes]


def test_password_wrap_round_trip(member_keypair: KeyPair, weak_argon2: Argon2Params) -> None:
    sealed = wrap_user_key_with_password(member_keypair, "u-1", "正确的密码 horse", weak_argon2)
    assert unwrap_user_key_with_password(sealed, "u-1", "正确的密码 horse") == member_keypair


def test_full_width_password_matches_half_width(
    member_keypair: KeyPair, weak_argon2: Argon2Params
) -> None:
    sealed = wrap_user_key_with_password(member_keypair, "u-1", "Secret123", weak_argon2)
    assert unwrap_user_key_with_password(sealed, "u-1", "Ｓｅｃｒｅｔ１２３") == member_keypair


def test_password_wrap_fails_closed(
    member_keypair: KeyPair, weak_argon2: Argon2Params, flip: Flip
) -> None:
    sealed = wrap_user_key_with_password(member_keypair, "u-1", "pw", weak_argon2)
    bad = [
        (sealed, "u-1", "wrong"),
        (sealed, "u-2", "pw"),  # moved to another user's row
        (flip(sealed, 0), "u-1", "pw"),  # format byte
        (flip(sealed, 4), "u-1", "pw"),  # memory cost
        (flip(sealed, 20), "u-1", "pw"),  # salt
        (flip(sealed, -1), "u-1", "pw"),  # tag
        (sealed[:20], "u-1", "pw"),
        (b"", "u-1", "pw"),
    ]
    for blob, user_id, password in bad:
        with pytest.raises(DecryptionFailed):
            unwrap_user_key_with_password(blob, user_id, password)


@pytest.mark.parametrize(
    ("memory", "iterations", "lanes"),
    [(2**40 // 1024, 1, 1), (64, 1000, 1), (8, 1, 0), (8, 0, 1)],
    ids=["huge-memory", "huge-iterations", "zero-lanes", "zero-iterations"],
)
def test_tampered_cost_parameters_are_refused_before_running(
    member_keypair: KeyPair, weak_argon2: Argon2Params, memory: int, iterations: int, lanes: int
) -> None:
    sealed = wrap_user_key_with_password(member_keypair, "u", "pw", weak_argon2)
    forged = (
        sealed[:1]
        + memory.to_bytes(4, "big")
        + iterations.to_bytes(4, "big")
        + lanes.to_bytes(4, "big")
        + sealed[13:]
    )
    with pytest.raises(DecryptionFailed):
        unwrap_user_key_with_password(forged, "u", "pw")


def test_recovery_code_shape() -> None:
    code = generate_recovery_code()
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{5}-){4}[0-9A-HJKMNP-TV-Z]{5}", code)
    assert generate_recovery_code() != code


@given(st.data())
def test_recovery_code_survives_sloppy_typing(data: st.DataObject) -> None:
    code = generate_recovery_code()
    typed = code.lower().replace("-", data.draw(st.sampled_from([" ", "", "-", "　"])))
    typed = typed.replace("0", "o").replace("1", "l")
    assert normalise_recovery_code(typed) == code.replace("-", "")


@pytest.mark.parametrize("typed", ["", "ABCDE", "U" * 25, "A" * 26, "A" * 24 + "!"])
def test_malformed_recovery_codes_are_refused(typed: str) -> None:
    with pytest.raises(RecoveryCodeFormatError, match="恢复码"):
        normalise_recovery_code(typed)


def test_recovery_wrap_round_trip(member_keypair: KeyPair, flip: Flip) -> None:
    code = generate_recovery_code()
    sealed = wrap_user_key_with_recovery_code(member_keypair, "u-1", code)
    assert unwrap_user_key_with_recovery_code(sealed, "u-1", code.lower()) == member_keypair
    other = generate_recovery_code()
    for blob, user_id, typed in [
        (sealed, "u-1", other),
        (sealed, "u-2", code),
        (flip(sealed, 0), "u-1", code),
        (flip(sealed, 5), "u-1", code),
        (flip(sealed, -1), "u-1", code),
        (sealed[:10], "u-1", code),
    ]:
        with pytest.raises(DecryptionFailed):
            unwrap_user_key_with_recovery_code(blob, user_id, typed)


def test_password_blob_is_not_a_recovery_blob(
    member_keypair: KeyPair, weak_argon2: Argon2Params
) -> None:
    code = generate_recovery_code()
    sealed = wrap_user_key_with_password(member_keypair, "u", code, weak_argon2)
    with pytest.raises(DecryptionFailed):
        unwrap_user_key_with_recovery_code(sealed, "u", code)


def test_peppered_password_wrap(member_keypair: KeyPair, weak_argon2: Argon2Params) -> None:
    pepper = bytes(range(32))
    sealed = wrap_user_key_with_password(member_keypair, "u", "pw", weak_argon2, pepper=pepper)
    assert sealed[0] == 3
    assert unwrap_user_key_with_password(sealed, "u", "pw", pepper=pepper) == member_keypair
    for wrong in (None, bytes(32)):
        with pytest.raises(DecryptionFailed):
            unwrap_user_key_with_password(sealed, "u", "pw", pepper=wrong)


def test_blobs_from_before_the_pepper_still_open(
    member_keypair: KeyPair, weak_argon2: Argon2Params
) -> None:
    sealed = wrap_user_key_with_password(member_keypair, "u", "pw", weak_argon2)
    assert sealed[0] == 1
    assert unwrap_user_key_with_password(sealed, "u", "pw", pepper=b"p" * 32) == member_keypair
