from __future__ import annotations

from collections.abc import Callable

import pytest

from crypto import (
    CaseKey,
    DecryptionFailed,
    KeyFormatError,
    KeyPair,
    PublicKey,
    unwrap_body_key,
    unwrap_case_key,
    wrap_body_key,
    wrap_case_key,
    wrapped_key_id,
)
from crypto.keys import PRIVATE_KEY_SIZE, PUBLIC_KEY_SIZE, open_from, seal_to

Flip = Callable[[bytes, int], bytes]


def test_keypair_survives_storage(body_keypair: KeyPair) -> None:
    restored = KeyPair(body_keypair.private)
    assert restored == body_keypair
    assert restored.public == body_keypair.public
    assert len(body_keypair.private) == PRIVATE_KEY_SIZE
    assert len(body_keypair.public.raw) == PUBLIC_KEY_SIZE
    assert PublicKey(body_keypair.public.raw).key_id == body_keypair.key_id


def test_key_ids_are_distinct_hex(body_keypair: KeyPair, member_keypair: KeyPair) -> None:
    assert body_keypair.key_id != member_keypair.key_id
    assert len(body_keypair.key_id) == 32
    int(body_keypair.key_id, 16)


def test_reprs_show_only_the_key_id(body_keypair: KeyPair) -> None:
    text = repr(body_keypair)
    assert body_keypair.key_id in text
    assert body_keypair.private.hex()[:16] not in text
    assert repr(body_keypair.public) == f"PublicKey(key_id={body_keypair.key_id!r})"


@pytest.mark.parametrize(
    "raw",
    [b"", bytes(PUBLIC_KEY_SIZE - 1), b"\xff" * PUBLIC_KEY_SIZE],
    ids=["empty", "short", "invalid"],
)
def test_malformed_public_keys_are_refused(raw: bytes) -> None:
    with pytest.raises(KeyFormatError) as caught:
        PublicKey(raw)
    assert caught.value.what == "public key"


def test_malformed_private_key_is_refused() -> None:
    with pytest.raises(KeyFormatError):
        KeyPair(bytes(10))


def test_case_key_wrapped_to_a_body(body_keypair: KeyPair) -> None:
    key = CaseKey.generate()
    wrapped = wrap_case_key(key, "case-1", body_keypair.public)
    assert unwrap_case_key(wrapped, "case-1", body_keypair) == key
    assert wrapped_key_id(wrapped) == body_keypair.key_id


def test_wrapped_case_key_is_bound_to_its_case(body_keypair: KeyPair) -> None:
    wrapped = wrap_case_key(CaseKey.generate(), "case-1", body_keypair.public)
    with pytest.raises(DecryptionFailed):
        unwrap_case_key(wrapped, "case-2", body_keypair)


def test_wrong_body_and_wrong_key_id_fail(
    body_keypair: KeyPair, member_keypair: KeyPair, flip: Flip
) -> None:
    wrapped = wrap_case_key(CaseKey.generate(), "c", body_keypair.public)
    with pytest.raises(DecryptionFailed):
        unwrap_case_key(wrapped, "c", member_keypair)
    # Rewriting the key id to the other body's id does not help either.
    forged = wrapped[:1] + bytes.fromhex(member_keypair.key_id) + wrapped[17:]
    with pytest.raises(DecryptionFailed):
        unwrap_case_key(forged, "c", member_keypair)
    with pytest.raises(DecryptionFailed):
        unwrap_case_key(flip(wrapped, 3), "c", body_keypair)


def test_tampering_anywhere_in_an_hpke_blob_fails(body_keypair: KeyPair, flip: Flip) -> None:
    wrapped = wrap_case_key(CaseKey.generate(), "c", body_keypair.public)
    for index in (0, 17, 200, 1136, 1140, -1):
        with pytest.raises(DecryptionFailed):
            unwrap_case_key(flip(wrapped, index), "c", body_keypair)


@pytest.mark.parametrize("cut", [0, 1, 17, 100, 1137, -1])
def test_truncated_hpke_blobs_fail(body_keypair: KeyPair, cut: int) -> None:
    wrapped = wrap_case_key(CaseKey.generate(), "c", body_keypair.public)
    with pytest.raises(DecryptionFailed):
        unwrap_case_key(wrapped[:cut], "c", body_keypair)


def test_rotation_old_and_new_body_keys_both_read() -> None:
    old, new = KeyPair.generate(), KeyPair.generate()
    keyring = {old.key_id: old, new.key_id: new}
    before = wrap_case_key(CaseKey.generate(), "c-old", old.public)
    after = wrap_case_key(CaseKey.generate(), "c-new", new.public)
    for case_id, wrapped in (("c-old", before), ("c-new", after)):
        holder = keyring[wrapped_key_id(wrapped)]
        unwrap_case_key(wrapped, case_id, holder)


def test_wrapped_key_id_refuses_garbage() -> None:
    with pytest.raises(DecryptionFailed):
        wrapped_key_id(b"\x01short")
    with pytest.raises(DecryptionFailed):
        wrapped_key_id(b"\x09" + bytes(40))


def test_body_key_wrapped_to_members(body_keypair: KeyPair, member_keypair: KeyPair) -> None:
    wrapped = wrap_body_key(body_keypair, "第一巡察组", member_keypair.public)
    assert unwrap_body_key(wrapped, "第一巡察组", member_keypair) == body_keypair
    with pytest.raises(DecryptionFailed):
        unwrap_body_key(wrapped, "第二巡察组", member_keypair)


def test_purposes_do_not_mix(body_keypair: KeyPair, member_keypair: KeyPair) -> None:
    # A wrapped body key presented as a wrapped case key (same context string) fails.
    wrapped = wrap_body_key(body_keypair, "x", member_keypair.public)
    with pytest.raises(DecryptionFailed):
        unwrap_case_key(wrapped, "x", member_keypair)


def test_context_must_be_present(body_keypair: KeyPair) -> None:
    with pytest.raises(ValueError, match="context"):
        seal_to(body_keypair.public, b"p", "", b"x")
    with pytest.raises(ValueError, match="context"):
        open_from(body_keypair, b"p", "", b"\x01" + bytes.fromhex(body_keypair.key_id))
