"""A staff user's private key at rest: under their password, and under a recovery code.

Password-wrapped format (version 1 without pepper, 3 with)::

    0x01|0x03 || memory_kib(4) || iterations(4) || lanes(4) || salt(16) || nonce(12) || ct || tag
    key = Argon2id(NFKC(password), salt, params, secret=pepper); aad = header || user id

The parameters travel in the blob so raising :data:`PASSWORD_ARGON2` never strands old blobs,
and the format byte says whether the key file's pepper was mixed in, so blobs made before a
caller started passing the pepper still open.

Recovery-code-wrapped format (version 1)::

    0x02 || salt(16) || nonce(12) || ct || tag(16)
    key = HKDF-SHA256(code, salt, "xuncha/recovery/v1"); aad = header || user id

A recovery code carries 125 random bits, so it needs no slow KDF: guessing it is hopeless anyway.
"""

from __future__ import annotations

import os
import secrets
import unicodedata

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.argon import PASSWORD_ARGON2, SALT_SIZE, Argon2Params, argon2id_key
from crypto.errors import DecryptionFailed, RecoveryCodeFormatError
from crypto.keys import KeyPair
from crypto.symmetric import gcm_open, gcm_seal

PASSWORD_WRAP_FORMAT = 1
PEPPERED_PASSWORD_WRAP_FORMAT = 3
RECOVERY_WRAP_FORMAT = 2

#: Crockford's base32 alphabet: no I, L, O, U, so codes survive handwriting and reading aloud.
RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECOVERY_GROUPS = 5
RECOVERY_GROUP_SIZE = 5
_RECOVERY_LENGTH = RECOVERY_GROUPS * RECOVERY_GROUP_SIZE
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
#: Refuse to run Argon2id with absurd parameters read from a (possibly tampered) blob.
_MAX_MEMORY_KIB = 4 * 1024 * 1024
_MAX_ITERATIONS = 64
_PASSWORD_HEADER = 1 + 4 + 4 + 4 + SALT_SIZE


def normalise_password(password: str) -> bytes:
    """NFKC, as NIST SP 800-63B suggests: full-width characters typed with a Chinese IME in
    full-width mode then match the half-width ones typed at enrolment."""
    return unicodedata.normalize("NFKC", password).encode("utf-8")


def _user_aad(header: bytes, user_id: str) -> bytes:
    return header + user_id.encode("utf-8")


def wrap_user_key_with_password(
    keypair: KeyPair,
    user_id: str,
    password: str,
    params: Argon2Params = PASSWORD_ARGON2,
    *,
    pepper: bytes | None = None,
) -> bytes:
    """Encrypt a user's private key under a key derived from their password (and the pepper)."""
    salt = os.urandom(SALT_SIZE)
    header = (
        bytes([PASSWORD_WRAP_FORMAT if pepper is None else PEPPERED_PASSWORD_WRAP_FORMAT])
        + params.memory_kib.to_bytes(4, "big")
        + params.iterations.to_bytes(4, "big")
        + params.lanes.to_bytes(4, "big")
        + salt
    )
    key = argon2id_key(normalise_password(password), salt, params, pepper=pepper)
    return header + gcm_seal(key, keypair.private, _user_aad(header, user_id))


def unwrap_user_key_with_password(
    sealed: bytes, user_id: str, password: str, *, pepper: bytes | None = None
) -> KeyPair:
    """Recover a user's keypair; a wrong password is :class:`DecryptionFailed`.

    ``pepper`` is used only if the blob was made with one; a peppered blob without it fails.
    """
    header = sealed[:_PASSWORD_HEADER]
    if len(header) != _PASSWORD_HEADER:
        raise DecryptionFailed
    if header[0] == PEPPERED_PASSWORD_WRAP_FORMAT and pepper is not None:
        used_pepper: bytes | None = pepper
    elif header[0] == PASSWORD_WRAP_FORMAT:
        used_pepper = None
    else:
        raise DecryptionFailed
    memory, iterations, lanes = (int.from_bytes(header[i : i + 4], "big") for i in (1, 5, 9))
    if memory > _MAX_MEMORY_KIB or iterations > _MAX_ITERATIONS:
        raise DecryptionFailed
    try:
        params = Argon2Params(memory_kib=memory, iterations=iterations, lanes=lanes)
    except ValueError:
        raise DecryptionFailed from None
    key = argon2id_key(
        normalise_password(password), header[-SALT_SIZE:], params, pepper=used_pepper
    )
    return KeyPair(gcm_open(key, sealed[_PASSWORD_HEADER:], _user_aad(header, user_id)))


def generate_recovery_code() -> str:
    """A one-time recovery code, e.g. ``7K2QD-XM4TB-9RZ1C-HW3PA-E6NVF`` (125 bits)."""
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(
        raw[i : i + RECOVERY_GROUP_SIZE] for i in range(0, _RECOVERY_LENGTH, RECOVERY_GROUP_SIZE)
    )


def normalise_recovery_code(code: str) -> str:
    """Upper-case, drop spaces and dashes, read O as 0 and I/L as 1; raise if still invalid."""
    text = unicodedata.normalize("NFKC", code).upper().translate(_LOOKALIKES)
    compact = "".join(ch for ch in text if not ch.isspace() and ch != "-")
    if len(compact) != _RECOVERY_LENGTH or any(ch not in RECOVERY_ALPHABET for ch in compact):
        raise RecoveryCodeFormatError
    return compact


def _recovery_key(code: str, salt: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"xuncha/recovery/v1")
    return hkdf.derive(normalise_recovery_code(code).encode("ascii"))


def wrap_user_key_with_recovery_code(keypair: KeyPair, user_id: str, code: str) -> bytes:
    """Encrypt a user's private key under a recovery code from :func:`generate_recovery_code`."""
    salt = os.urandom(SALT_SIZE)
    header = bytes([RECOVERY_WRAP_FORMAT]) + salt
    key = _recovery_key(code, salt)
    return header + gcm_seal(key, keypair.private, _user_aad(header, user_id))


def unwrap_user_key_with_recovery_code(sealed: bytes, user_id: str, code: str) -> KeyPair:
    """Recover a user's keypair with their recovery code.

    A code that is not even well-formed raises :class:`RecoveryCodeFormatError` (it says only
    that the typing is wrong); a well-formed wrong code is :class:`DecryptionFailed`.
    """
    header = sealed[: 1 + SALT_SIZE]
    key = _recovery_key(code, header[1:])
    if len(header) != 1 + SALT_SIZE or header[0] != RECOVERY_WRAP_FORMAT:
        raise DecryptionFailed
    return KeyPair(gcm_open(key, sealed[len(header) :], _user_aad(header, user_id)))
