"""Domain errors with stable codes.

Every error the platform reports carries a stable, dotted ``code`` (``money.float_refused``,
``identifier.invalid_check_digit`` ...) and a ``kind`` that adapters map to a transport status:
the web adapter to an RFC 9457 problem+json status, the CLI to one readable line and a non-zero
exit. Codes never change once published; messages may.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    """What went wrong, independent of transport."""

    INVALID = "invalid"  # bad input: 422 on the API
    NOT_FOUND = "not_found"  # 404
    CONFLICT = "conflict"  # 409: state does not allow it (duplicate, illegal transition)
    UNAUTHENTICATED = "unauthenticated"  # 401
    FORBIDDEN = "forbidden"  # 403: authenticated but lacking the permission
    LOCKED = "locked"  # 423: account locked after failed logins
    TOO_LARGE = "too_large"  # 413
    UNAVAILABLE = "unavailable"  # 503: a provider or dependency is down


class DomainError(Exception):
    """Base of every error raised on purpose by Puhui code.

    ``code`` is stable and machine-readable; ``message`` is for people; ``details`` holds
    structured context (field names, limits) that is safe to show to the caller.
    """

    code: str = "puhui.error"
    kind: ErrorKind = ErrorKind.INVALID

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        kind: ErrorKind | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if kind is not None:
            self.kind = kind
        self.details: dict[str, Any] = dict(details or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class ValidationError(DomainError):
    """Input that breaks a rule of the domain (bad checksum, float money, unknown field)."""

    code = "validation.invalid"
    kind = ErrorKind.INVALID


class NotFound(DomainError):
    code = "not_found"
    kind = ErrorKind.NOT_FOUND


class Conflict(DomainError):
    code = "conflict"
    kind = ErrorKind.CONFLICT


class Unauthenticated(DomainError):
    code = "auth.unauthenticated"
    kind = ErrorKind.UNAUTHENTICATED


class Forbidden(DomainError):
    code = "auth.forbidden"
    kind = ErrorKind.FORBIDDEN
