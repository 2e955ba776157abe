"""The PBX gate on its own: signatures, the clock, the replay memory; the secrets setting."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.settings import Settings
from intake.pbx import form_parts
from intake.pbx_auth import (
    PBX_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    PbxGate,
    PbxRefused,
    sign,
)

SECRET = bytes(range(32))


def test_gate_forgets_old_signatures_and_refuses_them_by_the_clock() -> None:
    now = [1_800_000_000.0]
    gate = PbxGate({"asterisk1": SECRET}, clock=lambda: now[0])
    body = b'{"receipt": "1"}'
    headers = {
        PBX_HEADER: "asterisk1",
        TIMESTAMP_HEADER: str(int(now[0])),
        SIGNATURE_HEADER: sign(SECRET, int(now[0]), body),
    }
    assert gate.verify(headers, body) == "asterisk1"
    with pytest.raises(PbxRefused) as replay:
        gate.verify(headers, body)
    assert replay.value.code == "pbx_replay"
    now[0] += 3600  # the memory is purged, and the clock refuses the old request instead
    with pytest.raises(PbxRefused) as stale:
        gate.verify(headers, body)
    assert stale.value.code == "pbx_timestamp_stale"
    assert len(gate.replays._seen) <= 1


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("asterisk1", "NAME:HEXSECRET"),
        ("Asterisk:" + "ab" * 32, "NAME:HEXSECRET"),
        ("asterisk1:abcd", "at least 64 hex digits"),
        ("a:" + "ab" * 32 + ",a:" + "cd" * 32, "named twice"),
    ],
)
def test_pbx_secrets_setting_is_checked(value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"XUNCHA_PBX_SECRETS": value})
    assert refused.value.variable == "XUNCHA_PBX_SECRETS"
    assert problem in refused.value.message


def test_form_parts_keep_binary_audio_byte_for_byte() -> None:
    # Recordings contain every byte value, CR and LF runs, and near-misses of the boundary.
    audio = bytes(range(256)) * 400 + b"\r\n--bn\r\r\n\n\r-" + bytes(range(255, -1, -1))
    body = (
        b'--bnd\r\nContent-Disposition: form-data; name="category"\r\n\r\n3\r\n'
        b'--bnd\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
        b"Content-Type: audio/wav\r\n\r\n" + audio + b"\r\n--bnd--\r\n"
    )
    parts = form_parts("multipart/form-data; boundary=bnd", body)
    assert parts["audio"].data == audio
    assert parts["category"].data == b"3"
