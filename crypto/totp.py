"""Time-based one-time passwords (RFC 6238) for staff second factor.

SHA-1, 6 digits, 30-second steps: what every authenticator app supports. :func:`verify_totp`
returns the matched time step; the caller stores it and passes it back as ``last_used_step``
so a code, once accepted, is refused for the rest of its window (no replay).
"""

from __future__ import annotations

import os
import unicodedata

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
TOTP_SECRET_SIZE = 20  # 160 bits, RFC 4226's recommendation for SHA-1


def new_totp_secret() -> bytes:
    return os.urandom(TOTP_SECRET_SIZE)


def _totp(secret: bytes) -> TOTP:
    return TOTP(secret, TOTP_DIGITS, hashes.SHA1(), TOTP_STEP_SECONDS)  # noqa: S303 — RFC 6238 default; HMAC-SHA1 is sound


def totp_provisioning_uri(secret: bytes, account: str, issuer: str) -> str:
    """``otpauth://totp/…`` for a QR code shown once at enrolment."""
    return _totp(secret).get_provisioning_uri(account, issuer)


def totp_code(secret: bytes, at: float) -> str:
    """The code valid at Unix time ``at`` (for tests and enrolment confirmation screens)."""
    return _totp(secret).generate(int(at)).decode("ascii")


def verify_totp(
    secret: bytes, code: str, at: float, *, window: int = 1, last_used_step: int | None = None
) -> int | None:
    """The time step ``code`` matches within ±``window`` steps of ``at``, or ``None``.

    Steps at or before ``last_used_step`` are never accepted. Spaces and full-width digits are
    accepted in ``code``.
    """
    typed = "".join(unicodedata.normalize("NFKC", code).split())
    if len(typed) != TOTP_DIGITS or not typed.isascii() or not typed.isdigit():
        return None
    totp = _totp(secret)
    current = int(at) // TOTP_STEP_SECONDS
    for step in sorted(
        range(current - window, current + window + 1), key=lambda s: abs(s - current)
    ):
        if last_used_step is not None and step <= last_used_step:
            continue
        try:
            totp.verify(typed.encode("ascii"), step * TOTP_STEP_SECONDS)
        except InvalidToken:
            continue
        return step
    return None
