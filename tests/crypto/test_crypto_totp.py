from __future__ import annotations

import pytest

from crypto import new_totp_secret, totp_code, totp_provisioning_uri, verify_totp
from crypto.totp import TOTP_STEP_SECONDS

NOW = 1_800_000_015.0  # a fixed instant keeps the tests off the wall clock
STEP = int(NOW) // TOTP_STEP_SECONDS


def test_rfc6238_vector() -> None:
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits) → last 6 digits.
    assert totp_code(b"12345678901234567890", 59) == "287082"


def test_current_code_matches_its_step() -> None:
    secret = new_totp_secret()
    assert len(secret) == 20
    assert verify_totp(secret, totp_code(secret, NOW), NOW) == STEP


@pytest.mark.parametrize("offset", [-1, 1])
def test_one_step_either_side_is_accepted(offset: int) -> None:
    secret = new_totp_secret()
    code = totp_code(secret, NOW + offset * TOTP_STEP_SECONDS)
    assert verify_totp(secret, code, NOW) == STEP + offset


def test_two_steps_away_is_refused() -> None:
    secret = new_totp_secret()
    assert verify_totp(secret, totp_code(secret, NOW - 2 * TOTP_STEP_SECONDS), NOW) is None


def test_replay_is_refused_with_the_last_used_step() -> None:
    secret = new_totp_secret()
    code = totp_code(secret, NOW)
    step = verify_totp(secret, code, NOW)
    assert step is not None
    assert verify_totp(secret, code, NOW, last_used_step=step) is None
    later = totp_code(secret, NOW + TOTP_STEP_SECONDS)
    assert verify_totp(secret, later, NOW, last_used_step=step) == step + 1


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦"])
def test_malformed_codes_are_refused(typed: str) -> None:
    assert verify_totp(new_totp_secret(), typed, NOW) is None


def test_spaced_and_full_width_codes_are_accepted() -> None:
    secret = new_totp_secret()
    code = totp_code(secret, NOW)
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in code)
    assert verify_totp(secret, f"{code[:3]} {code[3:]}", NOW) == STEP
    assert verify_totp(secret, full_width, NOW) == STEP


def test_wrong_code_is_refused() -> None:
    secret = new_totp_secret()
    code = totp_code(secret, NOW)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert verify_totp(secret, wrong, NOW, window=0) is None


def test_provisioning_uri() -> None:
    uri = totp_provisioning_uri(b"12345678901234567890", "xcb", "Xuncha")
    assert uri.startswith("otpauth://totp/Xuncha:xcb?")
    assert "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" in uri
    assert "period=30" in uri
