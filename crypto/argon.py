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


def _argon2id(salt: bytes, params: Argon2Params, length: int, pepper: bytes | None) -> Argon2id:
    # ``pepper`` is Argon2's secret input K (RFC 9106 §3.1): kept outside the database, it makes
    # a stolen hash useless for offline guessing without the key file as well.
    return Argon2id(
        salt=salt,
        length=length,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
        secret=pepper,
    )


def argon2id_key(
    material: bytes, salt: bytes, params: Argon2Params, *, pepper: bytes | None = None
) -> bytes:
    """Derive a 32-byte key from ``material`` and ``salt``."""
    return _argon2id(salt, params, 32, pepper).derive(material)


def argon2id_phc(
    material: bytes, salt: bytes, params: Argon2Params, *, pepper: bytes | None = None
) -> str:
    """Hash ``material`` to a PHC string (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``)."""
    return _argon2id(salt, params, 32, pepper).derive_phc_encoded(material)
