"""Receipt codes: what a reporter keeps instead of an account.

A receipt is 20 digits from :mod:`secrets` (log2(10^20) ≈ 66.4 bits), never stored. From it::

    a            = Argon2id(receipt digits, site salt, params)
    lookup id    = HMAC-SHA256(pepper, a)          (hex; the database column)
    reporter key = HKDF-SHA256(a, info="reporter") (32 bytes; wraps the case key)

The pepper and site salt live in the key file, not the database, so a database dump alone
allows no offline guessing; with the key file as well, guessing still costs one Argon2id call
per candidate out of 10^20.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.argon import RECEIPT_ARGON2, Argon2Params, argon2id_key
from crypto.errors import ReceiptFormatError

RECEIPT_DIGITS = 20
GROUP_SIZE = 4
# Besides white space and dash punctuation (category Pd): the minus sign, the katakana long
# vowel marks IMEs offer next to the dash, and underscore.
_OTHER_SEPARATORS = frozenset("\u2212\u30fc\uff70_")


@dataclass(frozen=True, slots=True)
class ReceiptKeys:
    """What a receipt opens. ``lookup_id`` is 64 lower-case hex characters."""

    lookup_id: str
    reporter_key: bytes = field(repr=False)


def generate_receipt() -> str:
    """20 uniformly random decimal digits, unformatted (one draw, leading zeros kept)."""
    return f"{secrets.randbelow(10**RECEIPT_DIGITS):0{RECEIPT_DIGITS}d}"


def normalise_receipt(text: str) -> str:
    """Reduce what a reporter typed to 20 ASCII digits or raise :class:`ReceiptFormatError`.

    Accepted: any Unicode decimal digit (full-width ``１２３`` from a Chinese IME, Arabic-Indic,
    …), white space of any kind (including the ideographic space U+3000) and dashes (ASCII,
    Unicode dashes, full-width and the long vowel mark ``ー`` IMEs sometimes produce).
    """
    digits: list[str] = []
    for ch in text:
        if ch.isspace() or ch in _OTHER_SEPARATORS or unicodedata.category(ch) == "Pd":
            continue
        if unicodedata.category(ch) != "Nd":
            raise ReceiptFormatError("character")
        digits.append(str(unicodedata.decimal(ch)))
        if len(digits) > RECEIPT_DIGITS:
            raise ReceiptFormatError("length")
    if len(digits) != RECEIPT_DIGITS:
        raise ReceiptFormatError("length")
    return "".join(digits)


def format_receipt(receipt: str) -> str:
    """``12345678901234567890`` → ``1234 5678 9012 3456 7890`` (accepts any typed form)."""
    digits = normalise_receipt(receipt)
    return " ".join(digits[i : i + GROUP_SIZE] for i in range(0, RECEIPT_DIGITS, GROUP_SIZE))


def derive_receipt_keys(
    receipt: str, *, site_salt: bytes, pepper: bytes, params: Argon2Params = RECEIPT_ARGON2
) -> ReceiptKeys:
    """Run the (slow) receipt KDF. Pure and thread-safe: call it from a bounded thread pool."""
    digits = normalise_receipt(receipt).encode("ascii")
    stretched = argon2id_key(digits, site_salt, params)
    lookup_id = hmac.new(pepper, stretched, hashlib.sha256).hexdigest()
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"reporter")
    return ReceiptKeys(lookup_id=lookup_id, reporter_key=hkdf.derive(stretched))
