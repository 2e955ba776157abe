from __future__ import annotations

import pytest

from crypto import (
    Argon2Params,
    PasswordHashFormatError,
    hash_password,
    password_needs_rehash,
    verify_password,
)


def test_hash_and_verify(weak_argon2: Argon2Params) -> None:
    phc = hash_password("巡察 2026!", weak_argon2)
    assert phc.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert verify_password("巡察 2026!", phc)
    assert not verify_password("巡察 2025!", phc)
    assert hash_password("巡察 2026!", weak_argon2) != phc  # salted


def test_full_width_typing_matches(weak_argon2: Argon2Params) -> None:
    phc = hash_password("Pass123", weak_argon2)
    assert verify_password("Ｐａｓｓ１２３", phc)


def test_rehash_needed_when_parameters_change(weak_argon2: Argon2Params) -> None:
    phc = hash_password("pw", weak_argon2)
    assert not password_needs_rehash(phc, weak_argon2)
    assert password_needs_rehash(phc, Argon2Params(memory_kib=16, iterations=1, lanes=1))
    assert password_needs_rehash(phc)  # the production default is stronger


@pytest.mark.parametrize(
    "phc",
    [
        "",
        "plaintext",
        "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
        "$argon2id$v=16$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
        "$argon2id$v=19$m=8,t=1,p=0$c2FsdHNhbHQ$aGFzaGhhc2g",
        "$argon2id$v=19$m=8,t=1$c2FsdHNhbHQ$aGFzaGhhc2g",
    ],
)
def test_malformed_hashes_raise(phc: str) -> None:
    with pytest.raises(PasswordHashFormatError):
        verify_password("pw", phc)
    with pytest.raises(PasswordHashFormatError):
        password_needs_rehash(phc)


def test_peppered_hash_needs_the_pepper(weak_argon2: Argon2Params) -> None:
    pepper = bytes(range(32))
    phc = hash_password("pw", weak_argon2, pepper=pepper)
    assert verify_password("pw", phc, pepper=pepper)
    assert not verify_password("pw", phc)
    assert not verify_password("pw", phc, pepper=bytes(32))
    assert not verify_password("pw", hash_password("pw", weak_argon2), pepper=pepper)
