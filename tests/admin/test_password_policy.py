"""The password policy: length, the bundled common-password list, the username, suggestions."""

from __future__ import annotations

import pytest

from admin.password_policy import password_problem, suggest_passphrase


@pytest.mark.parametrize(
    ("password", "refused"),
    [
        ("short-one", True),
        ("qwertyuiop123", True),
        ("WoAiNi1314!!", True),
        ("aaaaaaaaaaaaaaaa", True),
        ("group1-is-my-name", True),
        ("lanhua-qiche-yinhe", False),
    ],
)
def test_password_policy(password: str, refused: bool) -> None:
    assert (password_problem(password, "group1") is not None) is refused


def test_passphrase_suggestion_passes_the_policy() -> None:
    suggestion = suggest_passphrase()
    assert len(suggestion.split("-")) == 7
    assert password_problem(suggestion) is None
    assert suggest_passphrase() != suggestion
