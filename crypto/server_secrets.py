"""The server secrets kept in the key file (``XUNCHA_KEY_FILE``), never in the database.

Named ``server_secrets`` rather than ``secrets`` so it is never confused with the standard
library module. Pure: reading and writing the file (mode 0600) happens in ``core``.

JSON format (version 1)::

    {"version": 1, "pepper": b64, "site_salt": b64, "index_key": b64,
     "cookie_keys": [b64, ...newest first], "escrow_public_key": b64}
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field, replace
from typing import Any

from crypto.errors import KeyFormatError
from crypto.keys import PublicKey

SECRETS_FORMAT = 1
_KEY_SIZE = 32
#: Cookie keys kept after rotation: the newest signs, the others still verify for a while.
MAX_COOKIE_KEYS = 3


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise KeyFormatError("key file")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise KeyFormatError("key file") from None


@dataclass(frozen=True, slots=True)
class ServerSecrets:
    """Pepper, site salt, blind-index key, cookie signing keys and the escrow public key."""

    pepper: bytes = field(repr=False)
    site_salt: bytes = field(repr=False)
    index_key: bytes = field(repr=False)
    cookie_keys: tuple[bytes, ...] = field(repr=False)
    escrow_public_key: PublicKey

    def __post_init__(self) -> None:
        secrets_ = (self.pepper, self.site_salt, self.index_key, *self.cookie_keys)
        if not self.cookie_keys or any(len(s) != _KEY_SIZE for s in secrets_):
            raise KeyFormatError("key file")

    @classmethod
    def generate(cls, escrow_public_key: PublicKey) -> ServerSecrets:
        return cls(
            pepper=os.urandom(_KEY_SIZE),
            site_salt=os.urandom(_KEY_SIZE),
            index_key=os.urandom(_KEY_SIZE),
            cookie_keys=(os.urandom(_KEY_SIZE),),
            escrow_public_key=escrow_public_key,
        )

    def with_new_cookie_key(self) -> ServerSecrets:
        """A copy with a fresh cookie key first; the oldest drops off after MAX_COOKIE_KEYS."""
        keys = (os.urandom(_KEY_SIZE), *self.cookie_keys)[:MAX_COOKIE_KEYS]
        return replace(self, cookie_keys=keys)

    def to_json(self) -> str:
        document = {
            "version": SECRETS_FORMAT,
            "pepper": _b64(self.pepper),
            "site_salt": _b64(self.site_salt),
            "index_key": _b64(self.index_key),
            "cookie_keys": [_b64(k) for k in self.cookie_keys],
            "escrow_public_key": _b64(self.escrow_public_key.raw),
        }
        return json.dumps(document, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ServerSecrets:
        """Parse :meth:`to_json` output; anything else raises :class:`KeyFormatError`."""
        try:
            document = json.loads(text)
        except ValueError:
            raise KeyFormatError("key file") from None
        if not isinstance(document, dict) or document.get("version") != SECRETS_FORMAT:
            raise KeyFormatError("key file")
        cookie_keys = document.get("cookie_keys")
        if not isinstance(cookie_keys, list):
            raise KeyFormatError("key file")
        return cls(
            pepper=_unb64(document.get("pepper")),
            site_salt=_unb64(document.get("site_salt")),
            index_key=_unb64(document.get("index_key")),
            cookie_keys=tuple(_unb64(k) for k in cookie_keys),
            escrow_public_key=PublicKey(_unb64(document.get("escrow_public_key"))),
        )
