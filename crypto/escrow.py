"""The 巡察办 escrow key: generated once, its private half exported once for offline custody.

Only the public half stays on the server (in the key file); the private half exists only as the
armoured text returned by :func:`generate_escrow_key`, to be printed and locked away. Armour::

    -----BEGIN XUNCHA ESCROW PRIVATE KEY-----
    Key-Id: <32 hex>
    Checksum: <first 8 hex of SHA-256(payload)>

    <base64 of payload, 64 characters a line>
    -----END XUNCHA ESCROW PRIVATE KEY-----

    payload = 0x01 || private key (96 bytes)

The checksum catches typing and scanning mistakes; the key id confirms the pair matches the
server's escrow public key. It is not a seal: whoever holds the paper holds the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import textwrap
from dataclasses import dataclass, field

from crypto.errors import KeyFormatError
from crypto.keys import KeyPair, PublicKey

ESCROW_FORMAT = 1
BEGIN = "-----BEGIN XUNCHA ESCROW PRIVATE KEY-----"
END = "-----END XUNCHA ESCROW PRIVATE KEY-----"


@dataclass(frozen=True, slots=True)
class EscrowCeremony:
    """What ``init`` gets: the public key to keep, and the armoured private key to hand over."""

    public: PublicKey
    armoured_private: str = field(repr=False)


def _checksum(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:8]


def armour_escrow_key(keypair: KeyPair) -> str:
    """Printable text for a private key (see module docstring)."""
    payload = bytes([ESCROW_FORMAT]) + keypair.private
    body = textwrap.wrap(base64.b64encode(payload).decode("ascii"), 64)
    lines = [BEGIN, f"Key-Id: {keypair.key_id}", f"Checksum: {_checksum(payload)}", "", *body, END]
    return "\n".join(lines) + "\n"


def read_escrow_armour(text: str) -> KeyPair:
    """Parse armoured text back into a keypair; any defect raises :class:`KeyFormatError`."""
    lines = [line.strip() for line in text.strip().splitlines()]
    headers: dict[str, str] = {}
    body: list[str] = []
    if len(lines) < 5 or lines[0] != BEGIN or lines[-1] != END:
        raise KeyFormatError("escrow key")
    for line in lines[1:-1]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
        elif line:
            body.append(line)
    try:
        payload = base64.b64decode("".join(body), validate=True)
    except binascii.Error:
        raise KeyFormatError("escrow key") from None
    if headers.get("checksum") != _checksum(payload) or payload[:1] != bytes([ESCROW_FORMAT]):
        raise KeyFormatError("escrow key")
    keypair = KeyPair(payload[1:])
    if headers.get("key-id") != keypair.key_id:
        raise KeyFormatError("escrow key")
    return keypair


def generate_escrow_key() -> EscrowCeremony:
    """A fresh escrow keypair, returned as public key plus armour; nothing else keeps it."""
    keypair = KeyPair.generate()
    return EscrowCeremony(public=keypair.public, armoured_private=armour_escrow_key(keypair))
