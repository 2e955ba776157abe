from __future__ import annotations

import pytest

from crypto import PASSWORD_ARGON2, RECEIPT_ARGON2, Argon2Params


def test_defaults_meet_the_floor() -> None:
    # OWASP's minimum for Argon2id: 19 MiB, t=2, p=1.
    for params in (RECEIPT_ARGON2, PASSWORD_ARGON2):
        assert params.memory_kib >= 19 * 1024
        assert params.iterations >= 2
        assert params.lanes >= 1


@pytest.mark.parametrize(
    ("memory", "iterations", "lanes", "message"),
    [
        (64, 1, 0, "lanes"),
        (64, 1, 2**24, "lanes"),
        (64, 0, 1, "iterations"),
        (15, 1, 2, "memory"),
    ],
)
def test_invalid_parameters_are_refused(
    memory: int, iterations: int, lanes: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Argon2Params(memory_kib=memory, iterations=iterations, lanes=lanes)


def test_params_are_frozen_values() -> None:
    assert Argon2Params(8, 1, 1) == Argon2Params(memory_kib=8, iterations=1, lanes=1)
    with pytest.raises(AttributeError):
        RECEIPT_ARGON2.memory_kib = 1  # type: ignore[misc]
