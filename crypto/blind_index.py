"""Blind index over the accused person: related reports match without the name in clear.

``blind_index(key, name, unit)`` = hex HMAC-SHA256(index key, len16(n) || n || len16(u) || u)
where n and u are the normalised name and unit (:func:`normalise_for_index`). The result is 64
lower-case hex characters. Without the index key (in the key file) the index reveals only which
rows share a value; with it, names can be confirmed by guessing, so the key file is as
sensitive as the pepper.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from crypto.errors import BlindIndexInputError

_KEPT_CATEGORIES = ("L", "N")


def normalise_for_index(text: str) -> str:
    """NFKC (full-width → half-width), keep only letters and digits, lower-case.

    ``" 张 三 "``, ``"张三·"`` and ``"张-三"`` all become ``"张三"``; ``"ＬＩ Ｍｉｎｇ"`` becomes
    ``"liming"``. Marks and punctuation, spaces and symbols are dropped.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in _KEPT_CATEGORIES)


def _prefixed(value: str) -> bytes:
    raw = value.encode("utf-8")[:0xFFFF]
    return len(raw).to_bytes(2, "big") + raw


def blind_index(index_key: bytes, name: str, unit: str) -> str:
    """The hex blind index for an accused ``name`` in ``unit`` (unit may be empty).

    Pass the unit's stable id when it is known, so aliases of one unit index alike.
    """
    normal_name = normalise_for_index(name)
    if not normal_name:
        raise BlindIndexInputError
    message = _prefixed(normal_name) + _prefixed(normalise_for_index(unit))
    return hmac.new(index_key, message, hashlib.sha256).hexdigest()
