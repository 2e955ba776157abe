from __future__ import annotations

import pytest

from crypto import (
    CaseKey,
    KeyFormatError,
    KeyPair,
    armour_escrow_key,
    generate_escrow_key,
    read_escrow_armour,
    unwrap_case_key,
    wrap_case_key,
)


def test_escrow_ceremony_reads_back_and_opens_cases() -> None:
    ceremony = generate_escrow_key()
    assert "armoured" not in repr(ceremony)
    assert ceremony.public.key_id in repr(ceremony)
    keypair = read_escrow_armour(ceremony.armoured_private)
    assert keypair.public == ceremony.public
    key = CaseKey.generate()
    assert unwrap_case_key(wrap_case_key(key, "c", ceremony.public), "c", keypair) == key


def test_armour_is_printable_and_survives_reformatting(body_keypair: KeyPair) -> None:
    text = armour_escrow_key(body_keypair)
    assert text.isascii()
    assert all(len(line) <= 64 for line in text.splitlines())
    assert f"Key-Id: {body_keypair.key_id}" in text
    # Indentation and CRLF from a word processor or an e-mail client do not matter.
    reformatted = "\r\n".join("   " + line for line in text.splitlines())
    assert read_escrow_armour(reformatted) == body_keypair


def _replace_body_char(text: str) -> str:
    lines = text.splitlines()
    lines[4] = ("B" if lines[4][0] != "B" else "C") + lines[4][1:]
    return "\n".join(lines)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: "",
        lambda t: t.replace("BEGIN", "START"),
        lambda t: t.replace("-----END XUNCHA ESCROW PRIVATE KEY-----", ""),
        _replace_body_char,
        lambda t: t.replace("Checksum: ", "Checksum: 0"),
        lambda t: "\n".join(line for line in t.splitlines() if not line.startswith("Checksum")),
        lambda t: t.replace("Key-Id: ", "Key-Id: 00"),
        lambda t: t.replace("\n\n", "\n\n*"),
    ],
    ids=["empty", "no-begin", "no-end", "typo", "checksum", "no-checksum", "key-id", "bad-b64"],
)
def test_damaged_armour_is_refused(body_keypair: KeyPair, mangle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KeyFormatError) as caught:
        read_escrow_armour(mangle(armour_escrow_key(body_keypair)))
    assert caught.value.what == "escrow key"


def test_future_format_is_refused(body_keypair: KeyPair) -> None:
    import base64
    import hashlib

    payload = b"\x02" + body_keypair.private
    body = base64.b64encode(payload).decode()
    text = "\n".join(
        [
            "-----BEGIN XUNCHA ESCROW PRIVATE KEY-----",
            f"Key-Id: {body_keypair.key_id}",
            f"Checksum: {hashlib.sha256(payload).hexdigest()[:8]}",
            "",
            body[:64],
            body[64:128],
            body[128:],
            "-----END XUNCHA ESCROW PRIVATE KEY-----",
        ]
    )
    with pytest.raises(KeyFormatError):
        read_escrow_armour(text)
