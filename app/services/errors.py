"""Domain errors. The web layer maps each one to a status code and a message."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: `message` is safe to show to the user who caused it."""

    status_code = 400

    def __init__(self, message: str = "", *, field_errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class ValidationFailed(DomainError):
    status_code = 400


class NotAllowed(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class InvalidTransition(DomainError):
    status_code = 409


class StaleVersion(DomainError):
    status_code = 409


class SlotTaken(DomainError):
    status_code = 409


class TokenInvalid(DomainError):
    """Unknown, expired or used sign-in link. `reason` says which."""

    status_code = 400

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
