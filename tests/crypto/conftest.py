"""Fixtures for the crypto tests. Argon2id is weakened here so the suite stays fast."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings

from crypto import Argon2Params, CaseKey, KeyPair

# Key generation and HPKE make each example a few hundred microseconds; keep hypothesis quick
# and free of deadline flakiness on a busy two-core machine.
settings.register_profile(
    "crypto", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("crypto")


@pytest.fixture
def weak_argon2() -> Argon2Params:
    """The cheapest parameters Argon2id accepts: tests check logic, not cost."""
    return Argon2Params(memory_kib=8, iterations=1, lanes=1)


@pytest.fixture
def case_key() -> CaseKey:
    return CaseKey.generate()


@pytest.fixture(scope="session")
def body_keypair() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture(scope="session")
def member_keypair() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture
def flip() -> Callable[[bytes, int], bytes]:
    """``flip(blob, i)``: ``blob`` with one bit flipped at ``i`` (negative counts from the end)."""

    def flipped(blob: bytes, index: int) -> bytes:
        mutable = bytearray(blob)
        mutable[index] ^= 0x01
        return bytes(mutable)

    return flipped
