"""Argon2id parameters and the one place that runs the KDF.

Argon2id comes from ``cryptography`` (OpenSSL underneath), which releases the GIL while it runs,
so callers may run several derivations in a thread pool at once (measured in
``docs/adr/0002-receipt-kdf-parameters.md``). Nothing here takes a lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

#: Salts are 16 random bytes everywhere (RFC 9106 recommends 128 bits).
SALT_SIZE = 16


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """Cost parameters for one Argon2id call (RFC 9106 names: m, t, p)."""

    memory_kib: int
    iterations: int
    lanes: int

    def __post_init__(self) -> None:
        # RFC 9106 floors: m >= 8p KiB, t >= 1, 1 <= p < 2^24.
        if not 1 <= self.lanes < 2**24:
            raise ValueError("lanes must be between 1 and 2^24 - 1")
        if self.iterations < 1:
            raise ValueError("iterations must be at least 1")
        if self.memory_kib < 8 * self.lanes:
            raise ValueError("memory_kib must be at least 8 * lanes")


#: Receipt derivation: 19 MiB, t=2, p=1 — see docs/adr/0002-receipt-kdf-parameters.md.
RECEIPT_ARGON2 = Argon2Params(memory_kib=19 * 1024, iterations=2, lanes=1)

#: Staff passwords and password-wrapped user keys: low-entropy secrets, rare logins, so heavier.
PASSWORD_ARGON2 = Argon2Params(memory_kib=64 * 1024, iterations=3, lanes=1)


def argon2id_key(secret: bytes, salt: bytes, params: Argon2Params, length: int = 32) -> bytes:
    """Derive ``length`` bytes from ``secret`` and ``salt``."""
    kdf = Argon2id(
        salt=salt,
        length=length,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(secret)


def argon2id_phc(secret: bytes, salt: bytes, params: Argon2Params) -> str:
    """Hash ``secret`` to a PHC string (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``)."""
    kdf = Argon2id(
        salt=salt,
        length=32,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive_phc_encoded(secret)
