"""Case envelopes: one random data key per case, every content field sealed under it.

Field blob format (version 1)::

    0x01 || nonce(12) || AES-256-GCM(case key, pad(plaintext), aad) || tag(16)
    aad = "xuncha/field" || 0x01 || len16(case id) || case id || len16(field) || field

so a ciphertext moved to another case, another field or another format version fails to open.
Plaintext is padded (``0x80`` then zeros, ISO/IEC 7816-4) to a size bucket — powers of two from
256 bytes to 1 MiB, then whole MiB — so a stored length says little about the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from crypto.errors import DecryptionFailed
from crypto.symmetric import gcm_open, gcm_seal, new_key, require_key

FIELD_FORMAT = 1
REPORTER_WRAP_FORMAT = 1

MIN_BUCKET = 256
_MIB = 1024 * 1024


class CaseField(StrEnum):
    """Field names bound into the AAD. Repeated items add their own id, e.g. ``message/<id>``."""

    TEXT = "text"
    ACCUSED = "accused"
    CONTACT = "contact"
    ATTACHMENT_NAME = "attachment_name"
    ATTACHMENT = "attachment"
    MESSAGE_FROM_REPORTER = "message_from_reporter"
    MESSAGE_FROM_HANDLER = "message_from_handler"
    STAFF_NOTE = "staff_note"


@dataclass(frozen=True, slots=True)
class CaseKey:
    """The per-case 256-bit data key. Never stored in clear; its ``repr`` hides it."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        require_key(self.secret)

    @classmethod
    def generate(cls) -> CaseKey:
        return cls(new_key())


def padded_size(length: int) -> int:
    """The bucket a plaintext of ``length`` bytes is padded to (one byte of marker included)."""
    needed = length + 1
    if needed > _MIB:
        return -(-needed // _MIB) * _MIB
    bucket = MIN_BUCKET
    while bucket < needed:
        bucket *= 2
    return bucket


def pad(plaintext: bytes) -> bytes:
    size = padded_size(len(plaintext))
    return plaintext + b"\x80" + bytes(size - len(plaintext) - 1)


def unpad(padded: bytes) -> bytes:
    stripped = padded.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80:
        raise DecryptionFailed
    return stripped[:-1]


def _length_prefixed(value: str) -> bytes:
    raw = value.encode("utf-8")
    if not raw or len(raw) > 0xFFFF:
        raise ValueError("identifiers must be 1 to 65535 bytes of UTF-8")
    return len(raw).to_bytes(2, "big") + raw


def field_aad(case_id: str, field_name: str, version: int = FIELD_FORMAT) -> bytes:
    """Additional data that binds a ciphertext to its case, field and format version."""
    return (
        b"xuncha/field"
        + bytes([version])
        + _length_prefixed(case_id)
        + _length_prefixed(field_name)
    )


def seal_field(key: CaseKey, case_id: str, field_name: str, plaintext: bytes) -> bytes:
    """Encrypt one content field of a case."""
    aad = field_aad(case_id, field_name)
    return bytes([FIELD_FORMAT]) + gcm_seal(key.secret, pad(plaintext), aad)


def open_field(key: CaseKey, case_id: str, field_name: str, sealed: bytes) -> bytes:
    """Decrypt a field sealed by :func:`seal_field`; any failure is :class:`DecryptionFailed`."""
    if not sealed or sealed[0] != FIELD_FORMAT:
        raise DecryptionFailed
    aad = field_aad(case_id, field_name)
    return unpad(gcm_open(key.secret, sealed[1:], aad))


def seal_text(key: CaseKey, case_id: str, field_name: str, text: str) -> bytes:
    """:func:`seal_field` for text (UTF-8)."""
    return seal_field(key, case_id, field_name, text.encode("utf-8"))


def open_text(key: CaseKey, case_id: str, field_name: str, sealed: bytes) -> str:
    """:func:`open_field` for text; invalid UTF-8 is a :class:`DecryptionFailed` too."""
    raw = open_field(key, case_id, field_name, sealed)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionFailed from None


def _reporter_aad(case_id: str) -> bytes:
    return b"xuncha/reporter-wrap" + bytes([REPORTER_WRAP_FORMAT]) + _length_prefixed(case_id)


def wrap_case_key_for_reporter(key: CaseKey, case_id: str, reporter_key: bytes) -> bytes:
    """Wrap the data key under the reporter key derived from the receipt (AES-256-GCM).

    Format: ``0x01 || nonce(12) || ciphertext(32) || tag(16)``, AAD binds the case id.
    """
    return bytes([REPORTER_WRAP_FORMAT]) + gcm_seal(
        reporter_key, key.secret, _reporter_aad(case_id)
    )


def unwrap_case_key_for_reporter(sealed: bytes, case_id: str, reporter_key: bytes) -> CaseKey:
    """Inverse of :func:`wrap_case_key_for_reporter`."""
    if not sealed or sealed[0] != REPORTER_WRAP_FORMAT:
        raise DecryptionFailed
    # Authenticated, and only wrap_case_key_for_reporter writes under this AAD, so the
    # plaintext is a 32-byte key.
    return CaseKey(gcm_open(reporter_key, sealed[1:], _reporter_aad(case_id)))
