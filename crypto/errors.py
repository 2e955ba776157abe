"""Errors raised by :mod:`crypto`.

One root, :class:`CryptoError`, with specific leaves (itsdangerous style). Opening anything that
fails — wrong key, wrong key id, tampered, truncated, reordered, malformed — raises
:class:`DecryptionFailed` and nothing else, so callers cannot leak an oracle by accident.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Root of every error this package raises on purpose."""


class DecryptionFailed(CryptoError):
    """Something could not be opened. Deliberately carries no detail."""

    def __init__(self) -> None:
        super().__init__("decryption failed")


class ReceiptFormatError(CryptoError, ValueError):
    """A receipt code typed by a reporter is not 20 digits.

    ``message`` is safe to show to the reporter; the input itself is never echoed because it may
    be (part of) a secret.
    """

    message = (
        "回执码应为20位数字，可以包含空格或短横线。"
        "A receipt code is 20 digits; spaces and dashes are allowed."
    )

    def __init__(self, reason: str) -> None:
        super().__init__(self.message)
        #: ``"character"`` (something other than digits, spaces, dashes) or ``"length"``.
        self.reason = reason


class RecoveryCodeFormatError(CryptoError, ValueError):
    """A recovery code does not have the expected alphabet or length."""

    message = "恢复码格式不正确。The recovery code is not in the expected format."

    def __init__(self) -> None:
        super().__init__(self.message)


class KeyFormatError(CryptoError, ValueError):
    """Key material (a public key, armoured escrow key, secrets file) could not be parsed."""

    def __init__(self, what: str) -> None:
        super().__init__(f"malformed {what}")
        #: Which kind of key material was malformed, e.g. ``"public key"``.
        self.what = what


class PasswordHashFormatError(CryptoError, ValueError):
    """A stored password hash is not an Argon2id PHC string this package can check."""

    def __init__(self) -> None:
        super().__init__("stored password hash is not a valid Argon2id PHC string")


class BlindIndexInputError(CryptoError, ValueError):
    """An accused name normalises to nothing, so it cannot be indexed."""

    def __init__(self) -> None:
        super().__init__("accused name is empty after normalisation")


class StreamStateError(CryptoError):
    """A stream sealer or opener was used after it was finalised."""

    def __init__(self) -> None:
        super().__init__("stream already finalised")
