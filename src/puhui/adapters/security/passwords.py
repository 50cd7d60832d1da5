"""Slow password hashing with Argon2id (argon2-cffi, RFC 9106 parameters)."""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher as _Argon2
from argon2 import exceptions as argon2_errors


class Argon2PasswordHasher:
    def __init__(self, *, fast_for_tests: bool = False) -> None:
        # RFC 9106 "second recommended" option by default; a cheap profile only for tests.
        self._ph = (
            _Argon2(time_cost=1, memory_cost=8 * 1024, parallelism=1)
            if fast_for_tests
            else _Argon2(time_cost=3, memory_cost=64 * 1024, parallelism=2)
        )

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._ph.verify(password_hash, password)
        except (
            argon2_errors.VerifyMismatchError,
            argon2_errors.InvalidHashError,
            argon2_errors.VerificationError,
        ):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._ph.check_needs_rehash(password_hash)
        except argon2_errors.InvalidHashError:
            return True


class HmacSecretHasher:
    """HMAC-SM3 keyed hash for one-time codes (a 6-digit code needs a key, not just a hash)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def keyed_hash(self, value: str, *, context: str) -> str:
        return hmac.new(self._key, f"{context}\x00{value}".encode(), "sm3").hexdigest()


def _selftest() -> None:  # pragma: no cover - import-time guard
    hashlib.new("sm3")


_selftest()
