"""Keypairs, key ids and HPKE wrapping (RFC 9180) for bodies, members and escrow.

Suite: KEM ``MLKEM768_X25519`` (post-quantum hybrid), KDF ``HKDF_SHA256``, AEAD ``AES_256_GCM``.
A private key is stored as 96 bytes: the 64-byte ML-KEM-768 seed, then the X25519 scalar. A
public key is 1216 bytes: the ML-KEM-768 encapsulation key, then the X25519 point. A key id is
the first 16 bytes of SHA-256("xuncha/key-id/v1" || public key), shown as hex.

Wrapped blob format (version 1)::

    0x01 || key id(16) || HPKE ciphertext (enc(1120) || ct || tag(16))
    info = "xuncha/" || purpose || 0x01 || len16(context) || context || key id

The key id lets a holder of several keys (rotation) pick the right one; the info binds the blob
to what it wraps (which case, which body) so blobs cannot be moved between rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from crypto.envelope import CaseKey
from crypto.errors import DecryptionFailed, KeyFormatError

WRAP_FORMAT = 1
KEY_ID_SIZE = 16
_SEED_SIZE = 64
_X25519_SIZE = 32
PRIVATE_KEY_SIZE = _SEED_SIZE + _X25519_SIZE
PUBLIC_KEY_SIZE = 1184 + _X25519_SIZE

SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def _key_id(public_raw: bytes) -> bytes:
    return hashlib.sha256(b"xuncha/key-id/v1" + public_raw).digest()[:KEY_ID_SIZE]


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A body's, user's or escrow public key (not secret; ``repr`` shows only the id)."""

    raw: bytes = field(repr=False)
    # Parsed once: checking an ML-KEM public key is most of what parsing costs.
    _hpke: hpke.MLKEM768X25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.raw) != PUBLIC_KEY_SIZE:
            raise KeyFormatError("public key")
        try:
            parsed = hpke.MLKEM768X25519PublicKey(
                mlkem.MLKEM768PublicKey.from_public_bytes(self.raw[:-_X25519_SIZE]),
                x25519.X25519PublicKey.from_public_bytes(self.raw[-_X25519_SIZE:]),
            )
        except ValueError:
            raise KeyFormatError("public key") from None
        object.__setattr__(self, "_hpke", parsed)

    @property
    def key_id(self) -> str:
        return _key_id(self.raw).hex()

    def __repr__(self) -> str:
        return f"PublicKey(key_id={self.key_id!r})"

    def to_hpke(self) -> hpke.MLKEM768X25519PublicKey:
        return self._hpke


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A private key with its public half. ``private`` is 96 bytes and hidden from ``repr``."""

    private: bytes = field(repr=False)
    public: PublicKey = field(init=False)

    def __post_init__(self) -> None:
        if len(self.private) != PRIVATE_KEY_SIZE:
            raise KeyFormatError("private key")
        seed, scalar = self.private[:_SEED_SIZE], self.private[_SEED_SIZE:]
        ml_public = mlkem.MLKEM768PrivateKey.from_seed_bytes(seed).public_key()
        x_public = x25519.X25519PrivateKey.from_private_bytes(scalar).public_key()
        public = PublicKey(ml_public.public_bytes_raw() + x_public.public_bytes_raw())
        object.__setattr__(self, "public", public)

    @classmethod
    def generate(cls) -> KeyPair:
        seed = mlkem.MLKEM768PrivateKey.generate().private_bytes_raw()
        scalar = x25519.X25519PrivateKey.generate().private_bytes_raw()
        return cls(seed + scalar)

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def to_hpke(self) -> hpke.MLKEM768X25519PrivateKey:
        return hpke.MLKEM768X25519PrivateKey(
            mlkem.MLKEM768PrivateKey.from_seed_bytes(self.private[:_SEED_SIZE]),
            x25519.X25519PrivateKey.from_private_bytes(self.private[_SEED_SIZE:]),
        )


def _info(purpose: bytes, context: str, key_id: bytes) -> bytes:
    raw = context.encode("utf-8")
    if not raw or len(raw) > 0xFFFF:
        raise ValueError("context must be 1 to 65535 bytes of UTF-8")
    return b"xuncha/" + purpose + bytes([WRAP_FORMAT]) + len(raw).to_bytes(2, "big") + raw + key_id


def seal_to(recipient: PublicKey, purpose: bytes, context: str, plaintext: bytes) -> bytes:
    """HPKE base-mode seal of ``plaintext`` to ``recipient`` (see module docstring)."""
    key_id = _key_id(recipient.raw)
    ciphertext = SUITE.encrypt(plaintext, recipient.to_hpke(), info=_info(purpose, context, key_id))
    return bytes([WRAP_FORMAT]) + key_id + ciphertext


def open_from(holder: KeyPair, purpose: bytes, context: str, sealed: bytes) -> bytes:
    """Inverse of :func:`seal_to`; wrong key id, tampering or garbage: :class:`DecryptionFailed`."""
    key_id = _key_id(holder.public.raw)
    info = _info(purpose, context, key_id)
    if sealed[:1] != bytes([WRAP_FORMAT]) or sealed[1 : 1 + KEY_ID_SIZE] != key_id:
        raise DecryptionFailed
    try:
        return SUITE.decrypt(sealed[1 + KEY_ID_SIZE :], holder.to_hpke(), info=info)
    except (InvalidTag, ValueError):
        raise DecryptionFailed from None


def wrapped_key_id(sealed: bytes) -> str:
    """The recipient key id of an HPKE-wrapped blob, to pick the right key after rotation."""
    if len(sealed) < 1 + KEY_ID_SIZE or sealed[0] != WRAP_FORMAT:
        raise DecryptionFailed
    return sealed[1 : 1 + KEY_ID_SIZE].hex()


def wrap_case_key(key: CaseKey, case_id: str, recipient: PublicKey) -> bytes:
    """Wrap a case data key to a reading body's (or the escrow) public key."""
    return seal_to(recipient, b"case-key", case_id, key.secret)


def unwrap_case_key(sealed: bytes, case_id: str, holder: KeyPair) -> CaseKey:
    """Unwrap a case data key with a body's private key."""
    return CaseKey(open_from(holder, b"case-key", case_id, sealed))


def wrap_body_key(body_key: KeyPair, body_id: str, member: PublicKey) -> bytes:
    """Wrap a body's private key to one member's user public key."""
    return seal_to(member, b"body-key", body_id, body_key.private)


def unwrap_body_key(sealed: bytes, body_id: str, member: KeyPair) -> KeyPair:
    """Recover a body's keypair with a member's user keypair."""
    return KeyPair(open_from(member, b"body-key", body_id, sealed))
