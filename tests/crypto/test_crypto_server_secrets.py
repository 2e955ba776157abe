from __future__ import annotations

import base64
import json

import pytest

from crypto import KeyFormatError, KeyPair, ServerSecrets
from crypto.server_secrets import MAX_COOKIE_KEYS


@pytest.fixture(scope="module")
def server_secrets() -> ServerSecrets:
    return ServerSecrets.generate(KeyPair.generate().public)


def test_json_round_trip(server_secrets: ServerSecrets) -> None:
    text = server_secrets.to_json()
    assert json.loads(text)["version"] == 1
    assert ServerSecrets.from_json(text) == server_secrets


def test_repr_and_str_show_no_secret(server_secrets: ServerSecrets) -> None:
    for shown in (repr(server_secrets), str(server_secrets)):
        for secret in (
            server_secrets.pepper,
            server_secrets.site_salt,
            server_secrets.index_key,
            *server_secrets.cookie_keys,
        ):
            assert secret.hex()[:12] not in shown
            assert base64.b64encode(secret).decode()[:12] not in shown
        assert server_secrets.escrow_public_key.key_id in shown


def test_generated_secrets_are_distinct(server_secrets: ServerSecrets) -> None:
    values = {server_secrets.pepper, server_secrets.site_salt, server_secrets.index_key}
    assert len(values) == 3


def test_cookie_key_rotation_newest_first(server_secrets: ServerSecrets) -> None:
    rotated = server_secrets.with_new_cookie_key()
    assert rotated.cookie_keys[1:] == server_secrets.cookie_keys
    assert rotated.pepper == server_secrets.pepper
    for _ in range(5):
        rotated = rotated.with_new_cookie_key()
    assert len(rotated.cookie_keys) == MAX_COOKIE_KEYS


def _document(server_secrets: ServerSecrets) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(server_secrets.to_json())
    return loaded


@pytest.mark.parametrize(
    "change",
    [
        {"version": 2},
        {"pepper": "not base64!"},
        {"pepper": 12},
        {"site_salt": base64.b64encode(b"short").decode()},
        {"cookie_keys": []},
        {"cookie_keys": "abc"},
        {"escrow_public_key": base64.b64encode(b"x" * 10).decode()},
    ],
)
def test_damaged_documents_are_refused(
    server_secrets: ServerSecrets, change: dict[str, object]
) -> None:
    document = _document(server_secrets) | change
    with pytest.raises(KeyFormatError):
        ServerSecrets.from_json(json.dumps(document))


@pytest.mark.parametrize("text", ["", "{", "[]", "null"])
def test_not_a_key_file(text: str) -> None:
    with pytest.raises(KeyFormatError):
        ServerSecrets.from_json(text)


def test_missing_field_is_refused(server_secrets: ServerSecrets) -> None:
    document = _document(server_secrets)
    del document["index_key"]
    with pytest.raises(KeyFormatError):
        ServerSecrets.from_json(json.dumps(document))
