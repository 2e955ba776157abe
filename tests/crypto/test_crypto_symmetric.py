from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import DecryptionFailed, new_key, open_secret, seal_secret

Flip = Callable[[bytes, int], bytes]


@given(st.binary(max_size=2000), st.text(min_size=1, max_size=30))
def test_round_trip(plaintext: bytes, purpose: str) -> None:
    key = new_key()
    assert open_secret(key, purpose, seal_secret(key, purpose, plaintext)) == plaintext


def test_purpose_key_and_tampering_fail(flip: Flip) -> None:
    key = new_key()
    sealed = seal_secret(key, "session-user-key", b"private key bytes")
    bad = [
        (key, "totp-secret", sealed),
        (new_key(), "session-user-key", sealed),
        (key[:16], "session-user-key", sealed),
        (key, "session-user-key", flip(sealed, 0)),
        (key, "session-user-key", flip(sealed, 5)),
        (key, "session-user-key", flip(sealed, -1)),
        (key, "session-user-key", sealed[:20]),
        (key, "session-user-key", b""),
    ]
    for k, purpose, blob in bad:
        with pytest.raises(DecryptionFailed):
            open_secret(k, purpose, blob)


def test_caller_mistakes_are_value_errors() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        seal_secret(b"short", "p", b"x")
    with pytest.raises(ValueError, match="purpose"):
        seal_secret(new_key(), "", b"x")
