"""Staff password policy: at least 12 characters, not a common password, not the username.

Length is what matters most (NIST SP 800-63B): no composition rules, but a bundled list of
common passwords and their stems (``data/common_passwords.txt``) and a passphrase suggestion
built from plain pinyin words (``data/passphrase_words.txt``).
"""

from __future__ import annotations

import functools
import secrets
import unicodedata
from pathlib import Path

from core.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 256
PASSPHRASE_WORDS = 6
_DATA = Path(__file__).parent / "data"


@functools.cache
def _word_list(name: str) -> tuple[str, ...]:
    lines = (_DATA / name).read_text(encoding="utf-8").splitlines()
    return tuple(sorted({line.strip() for line in lines if line.strip() and line[0] != "#"}))


@functools.cache
def _common() -> frozenset[str]:
    return frozenset(_word_list("common_passwords.txt"))


def _folded(password: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", password).lower() if ch.isalnum())


def _stem(folded: str) -> str:
    return folded.rstrip("0123456789")


def password_problem(password: str, username: str = "") -> str | None:
    """Why ``password`` is refused (zh-CN), or None when it is acceptable."""
    normalised = unicodedata.normalize("NFKC", password)
    if len(normalised) < MIN_LENGTH:
        return f"密码至少需要 {MIN_LENGTH} 个字符，建议使用由几个词组成的口令短语。"
    if len(normalised) > MAX_LENGTH:
        return f"密码不能超过 {MAX_LENGTH} 个字符。"
    folded = _folded(normalised)
    if len(set(folded)) <= 2:
        return "密码过于简单（重复字符）。"
    common = _common()
    if folded in common or _stem(folded) in common or not _stem(folded):
        return "该密码属于常见密码，容易被猜中，请换一个。"
    if username and _folded(username) and _folded(username) in folded:
        return "密码不能包含用户名。"
    return None


def check_password(password: str, username: str = "") -> None:
    problem = password_problem(password, username)
    if problem is not None:
        raise InvalidInput(problem, code="weak_password")


def suggest_passphrase() -> str:
    """Six random pinyin words and a number, e.g. ``lanhua-qiche-yinhe-doufu-pubu-zuqiu-47``."""
    words = _word_list("passphrase_words.txt")
    chosen = [secrets.choice(words) for _ in range(PASSPHRASE_WORDS)]
    return "-".join([*chosen, f"{secrets.randbelow(90) + 10}"])
