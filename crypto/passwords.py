"""Staff password hashes: Argon2id PHC strings, with rehash-needed detection.

Passwords are NFKC-normalised first (see :func:`crypto.user_keys.normalise_password`). The PHC
string records its own parameters, so old hashes keep verifying after :data:`PASSWORD_ARGON2`
is raised; :func:`password_needs_rehash` tells the login code to store a fresh hash.
"""

from __future__ import annotations

import os
import re

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from crypto.argon import PASSWORD_ARGON2, SALT_SIZE, Argon2Params, argon2id_phc
from crypto.errors import PasswordHashFormatError
from crypto.user_keys import normalise_password

_PHC = re.compile(
    r"\$argon2id\$v=19\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+\Z"
)


def hash_password(
    password: str, params: Argon2Params = PASSWORD_ARGON2, *, pepper: bytes | None = None
) -> str:
    """A PHC string such as ``$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>``.

    Pass the key file's pepper (and pass it again to :func:`verify_password`) so a database
    dump alone allows no offline guessing; the PHC string does not record whether it was used.
    """
    salt = os.urandom(SALT_SIZE)
    return argon2id_phc(normalise_password(password), salt, params, pepper=pepper)


def _parse(phc: str) -> Argon2Params:
    match = _PHC.match(phc)
    if match is None:
        raise PasswordHashFormatError
    try:
        return Argon2Params(
            memory_kib=int(match["m"]), iterations=int(match["t"]), lanes=int(match["p"])
        )
    except ValueError:
        raise PasswordHashFormatError from None


def verify_password(password: str, phc: str, *, pepper: bytes | None = None) -> bool:
    """True when ``password`` matches ``phc``; a malformed hash raises PasswordHashFormatError."""
    _parse(phc)
    try:
        Argon2id.verify_phc_encoded(normalise_password(password), phc, secret=pepper)
    except InvalidKey:
        return False
    return True


def password_needs_rehash(phc: str, params: Argon2Params = PASSWORD_ARGON2) -> bool:
    """True when ``phc`` was made with parameters other than ``params``."""
    return _parse(phc) != params
