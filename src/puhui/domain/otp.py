"""One-time codes for customer login by phone (R-10.3 authentication).

Only a keyed hash of the code is stored; a code expires, is single-use and allows a limited
number of wrong guesses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from puhui.domain.errors import DomainError, ErrorKind, Unauthenticated


@dataclass(frozen=True)
class OneTimeCode:
    id: int | None
    phone_index: str
    code_hash: str
    purpose: str
    expires_at: datetime
    attempts: int = 0
    consumed: bool = False

    def check(
        self, code_hash: str, *, now: datetime, max_attempts: int
    ) -> tuple[OneTimeCode, bool]:
        """Return the updated code and whether ``code_hash`` matched."""
        if self.consumed:
            raise Unauthenticated("this code has already been used", code="otp.used")
        if now >= self.expires_at:
            raise Unauthenticated("this code has expired; ask for a new one", code="otp.expired")
        if self.attempts >= max_attempts:
            raise DomainError(
                "too many wrong codes; ask for a new one",
                code="otp.too_many_attempts",
                kind=ErrorKind.LOCKED,
            )
        if code_hash == self.code_hash:
            return replace(self, consumed=True), True
        return replace(self, attempts=self.attempts + 1), False
