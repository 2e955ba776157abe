"""AES-256-GCM building blocks and small sealed secrets.

Every sealed blob starts with a format byte so formats can evolve. Nonces are 96 random bits;
callers never choose them. Any failure to open raises :class:`DecryptionFailed`.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import DecryptionFailed

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16

SECRET_FORMAT = 1
_SECRET_AAD = b"xuncha/secret/v1\x00"


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_SIZE)


def require_key(key: bytes) -> None:
    """Reject keys that are not 256 bits (a programming error, not an attack)."""
    if len(key) != KEY_SIZE:
        raise ValueError("keys are 32 bytes")


def gcm_seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """``nonce || ciphertext || tag`` under a random nonce."""
    require_key(key)
    nonce = os.urandom(NONCE_SIZE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def gcm_open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Inverse of :func:`gcm_seal`; raises :class:`DecryptionFailed` on any failure."""
    if len(key) != KEY_SIZE or len(sealed) < NONCE_SIZE + TAG_SIZE:
        raise DecryptionFailed
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], aad)
    except InvalidTag:
        raise DecryptionFailed from None


def _purpose_aad(purpose: str) -> bytes:
    if not purpose:
        raise ValueError("purpose must not be empty")
    return _SECRET_AAD + purpose.encode("utf-8")


def seal_secret(key: bytes, purpose: str, plaintext: bytes) -> bytes:
    """Seal a small secret under a 32-byte key, binding ``purpose`` so blobs cannot be swapped.

    Example: a staff user's unwrapped private key stored under the per-session secret with
    purpose ``"session-user-key"``. Format: ``0x01 || nonce(12) || ciphertext || tag(16)``.
    """
    return bytes([SECRET_FORMAT]) + gcm_seal(key, plaintext, _purpose_aad(purpose))


def open_secret(key: bytes, purpose: str, sealed: bytes) -> bytes:
    """Open a blob from :func:`seal_secret`; any failure is :class:`DecryptionFailed`."""
    if not sealed or sealed[0] != SECRET_FORMAT:
        raise DecryptionFailed
    return gcm_open(key, sealed[1:], _purpose_aad(purpose))
