"""Segmented AEAD for attachments: constant memory, any chunk sizes in, fails closed.

Format (version 1)::

    header  = 0x01 || salt(32)
    subkey  = HKDF-SHA256(case key, salt, "xuncha/stream/v1" || field AAD(case id, field))
    segment i (not last) = AES-256-GCM(subkey, nonce(i, 0), 64 KiB of plaintext,   aad(i, 0))
    last segment         = AES-256-GCM(subkey, nonce(i, 1), pad(0..64 KiB) to 64 KiB + 1, aad(i, 1))
    nonce(i, f) = i as 11 bytes big-endian || f;   aad(i, f) = header || i as 8 bytes || f

Every stream has its own subkey (fresh salt), so deterministic nonces never repeat and segments
cannot be spliced between streams, cases or fields. The index and the final flag are in nonce
and AAD, so reordering, dropping, duplicating or truncating segments fails. The last segment is
always padded to the same size, so only the number of whole 64 KiB segments shows.

Plaintext leaves :class:`StreamOpener` before the last segment is checked: treat it as
unverified (e.g. write to a temporary row) until :meth:`StreamOpener.finalize` returns.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.envelope import CaseKey, field_aad
from crypto.errors import DecryptionFailed, StreamStateError
from crypto.symmetric import TAG_SIZE

STREAM_FORMAT = 1
SEGMENT_SIZE = 64 * 1024
_SALT_SIZE = 32
HEADER_SIZE = 1 + _SALT_SIZE
_MIDDLE_CT = SEGMENT_SIZE + TAG_SIZE
_LAST_CT = SEGMENT_SIZE + 1 + TAG_SIZE


def sealed_size(plaintext_size: int) -> int:
    """Exact ciphertext size of a stream carrying ``plaintext_size`` bytes."""
    middle = max(0, -(-plaintext_size // SEGMENT_SIZE) - 1)
    return HEADER_SIZE + middle * _MIDDLE_CT + _LAST_CT


class _Segments:
    """Per-stream AEAD state shared by sealer and opener."""

    def __init__(self, key: CaseKey, case_id: str, field_name: str, header: bytes) -> None:
        info = b"xuncha/stream/v1" + field_aad(case_id, field_name, STREAM_FORMAT)
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=header[1:], info=info)
        self._aead = AESGCM(hkdf.derive(key.secret))
        self._header = header
        self.index = 0

    def _nonce_aad(self, final: bool) -> tuple[bytes, bytes]:
        flag = bytes([final])
        return (
            self.index.to_bytes(11, "big") + flag,
            self._header + self.index.to_bytes(8, "big") + flag,
        )

    def seal(self, plaintext: bytes, *, final: bool) -> bytes:
        nonce, aad = self._nonce_aad(final)
        self.index += 1
        return self._aead.encrypt(nonce, plaintext, aad)

    def open(self, ciphertext: bytes, *, final: bool) -> bytes:
        nonce, aad = self._nonce_aad(final)
        try:
            plaintext = self._aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise DecryptionFailed from None
        self.index += 1
        return plaintext


class StreamSealer:
    """Encrypt an attachment fed in chunks of any size; output is a list of ciphertext pieces."""

    def __init__(self, key: CaseKey, case_id: str, field_name: str) -> None:
        header = bytes([STREAM_FORMAT]) + os.urandom(_SALT_SIZE)
        self._segments = _Segments(key, case_id, field_name, header)
        self._pending: list[bytes] = [header]
        self._buffer = bytearray()
        self._done = False

    def update(self, chunk: bytes) -> list[bytes]:
        if self._done:
            raise StreamStateError
        self._buffer += chunk
        out, self._pending = self._pending, []
        # Keep up to one segment back: it may turn out to be the last one.
        offset = 0
        while len(self._buffer) - offset > SEGMENT_SIZE:
            segment = bytes(self._buffer[offset : offset + SEGMENT_SIZE])
            out.append(self._segments.seal(segment, final=False))
            offset += SEGMENT_SIZE
        del self._buffer[:offset]
        return out

    def finalize(self) -> list[bytes]:
        if self._done:
            raise StreamStateError
        self._done = True
        last = bytes(self._buffer) + b"\x80" + bytes(SEGMENT_SIZE - len(self._buffer))
        self._buffer.clear()
        return [*self._pending, self._segments.seal(last, final=True)]


class StreamOpener:
    """Decrypt a stream fed in chunks of any size, one verified segment at a time.

    :meth:`finalize` raises :class:`DecryptionFailed` when the last segment is missing or cut.
    """

    def __init__(self, key: CaseKey, case_id: str, field_name: str) -> None:
        self._key = key
        self._case_id = case_id
        self._field_name = field_name
        self._segments: _Segments | None = None
        self._buffer = bytearray()
        self._done = False

    def _start(self) -> _Segments:
        header = bytes(self._buffer[:HEADER_SIZE])
        if header[0] != STREAM_FORMAT:
            raise DecryptionFailed
        del self._buffer[:HEADER_SIZE]
        return _Segments(self._key, self._case_id, self._field_name, header)

    def update(self, chunk: bytes) -> list[bytes]:
        if self._done:
            raise StreamStateError
        self._buffer += chunk
        out: list[bytes] = []
        try:
            if self._segments is None:
                if len(self._buffer) < HEADER_SIZE:
                    return out
                self._segments = self._start()
            # A middle segment is certain only once a whole last segment could follow it.
            offset = 0
            while len(self._buffer) - offset >= _MIDDLE_CT + _LAST_CT:
                segment = bytes(self._buffer[offset : offset + _MIDDLE_CT])
                out.append(self._segments.open(segment, final=False))
                offset += _MIDDLE_CT
            del self._buffer[:offset]
        except DecryptionFailed:
            self._done = True
            raise
        return out

    def finalize(self) -> list[bytes]:
        if self._done:
            raise StreamStateError
        self._done = True
        if self._segments is None or len(self._buffer) != _LAST_CT:
            raise DecryptionFailed
        last = self._segments.open(bytes(self._buffer), final=True).rstrip(b"\x00")
        # The sealer always writes the 0x80 marker; the tag makes anything else impossible.
        return [last[:-1]] if len(last) > 1 else []


def seal_stream(
    key: CaseKey, case_id: str, field_name: str, chunks: Iterable[bytes]
) -> Iterator[bytes]:
    """Generator form of :class:`StreamSealer`."""
    sealer = StreamSealer(key, case_id, field_name)
    for chunk in chunks:
        yield from sealer.update(chunk)
    yield from sealer.finalize()


def open_stream(
    key: CaseKey, case_id: str, field_name: str, chunks: Iterable[bytes]
) -> Iterator[bytes]:
    """Generator form of :class:`StreamOpener`; raises at the end if the stream is cut short."""
    opener = StreamOpener(key, case_id, field_name)
    for chunk in chunks:
        yield from opener.update(chunk)
    yield from opener.finalize()
