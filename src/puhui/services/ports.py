"""What the services need from the outside world, as protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol

from puhui.domain.audit import HashAlgorithm
from puhui.domain.identity import LockoutPolicy


class UnitOfWork(Protocol):
    """All or nothing: every repository shares one transaction, committed only by ``commit``."""

    users: Any
    sessions: Any
    api_keys: Any
    pending: Any
    customers: Any
    otps: Any
    audit: Any
    access_log: Any
    state: Any
    loans: Any
    ledger: Any
    credit_lines: Any
    risk: Any
    evidence: Any
    contracts: Any
    fraud: Any

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class SmsSender(Protocol):
    """Sends a text message to a mainland mobile number. ``name`` says which provider."""

    name: str

    def send(self, phone: str, text: str, *, purpose: str) -> str: ...


class SecretHasher(Protocol):
    """Keyed hash for short secrets (one-time codes) and blind indexes."""

    def keyed_hash(self, value: str, *, context: str) -> str: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Policies:
    lockout: LockoutPolicy = LockoutPolicy()
    session_ttl: timedelta = timedelta(minutes=30)
    customer_session_ttl: timedelta = timedelta(hours=12)
    otp_ttl: timedelta = timedelta(minutes=5)
    otp_max_attempts: int = 5
    otp_per_hour: int = 5
    audit_algorithm: HashAlgorithm = HashAlgorithm.SM3


@dataclass
class ServiceContext:
    """Everything a use case needs, built once by the entry point (web app, CLI, tests)."""

    uow: Callable[[], UnitOfWork]
    passwords: PasswordHasher
    sms: SmsSender
    secrets: SecretHasher
    policies: Policies = field(default_factory=Policies)
    clock: Callable[[], datetime] = utc_now
    products: dict[str, Any] = field(default_factory=dict)  # code -> LoanProduct
    risk: Any = None  # services.decisions.RiskSetup: strategies and data providers
    read_only_uow: Callable[[], UnitOfWork] | None = None  # reads without the write lock
    evidence: Any = None  # services.evidence.EvidenceSetup: keys, notary, time-stamp authority
    fraud: Any = None  # services.fraud.FraudSetup: fraud rule set, disposal policy, graph
