"""The root of every error the service raises on purpose.

Domain errors live beside the code that raises them and subclass
``XunchaError``; the two apps map them to responses, the CLI to one line on
stderr. A user never sees a traceback or an exception's text.
"""

from __future__ import annotations


class XunchaError(Exception):
    """Base class: ``code`` is stable and machine-readable, ``message`` is for people."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class ConfigError(XunchaError):
    """A setting is missing or malformed; ``variable`` names the culprit."""

    code = "config_error"

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class NotFound(XunchaError):
    code = "not_found"
    status = 404


class Forbidden(XunchaError):
    code = "forbidden"
    status = 403


class Conflict(XunchaError):
    code = "conflict"
    status = 409


class InvalidInput(XunchaError):
    code = "invalid_input"
    status = 422
