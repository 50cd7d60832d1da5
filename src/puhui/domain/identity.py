"""Staff identity, roles, permissions, posts, lockout and maker-checker (R-10.2i, R-M4.2).

Least privilege: each built-in role holds only what its job needs, and incompatible duties are
kept apart — the administrator manages users but cannot read customers' personal data in clear,
the auditor reads the audit trail but changes nothing, and a maker can never check their own
action.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from puhui.domain.errors import Conflict, DomainError, ErrorKind, Forbidden, ValidationError


class Permission(StrEnum):
    USERS_MANAGE = "users.manage"
    API_KEYS_MANAGE = "api_keys.manage"
    BUSINESS_DATE_SET = "business_date.set"
    AUDIT_READ = "audit.read"
    AUDIT_VERIFY = "audit.verify"
    ARCHIVES_READ = "archives.read"
    CUSTOMERS_READ = "customers.read"
    CUSTOMERS_WRITE = "customers.write"
    PERSONAL_DATA_UNMASK = "personal_data.unmask"
    DATA_EXPORT_DEIDENTIFIED = "data.export_deidentified"
    APPLICATIONS_CREATE = "applications.create"
    APPLICATIONS_REVIEW = "applications.review"
    CONTRACTS_MANAGE = "contracts.manage"
    FRAUD_MANAGE = "fraud.manage"
    APPROVALS_CHECK = "approvals.check"
    LOANS_READ = "loans.read"
    LOANS_SERVICE = "loans.service"
    COLLECTIONS_WORK = "collections.work"
    RULES_MANAGE = "rules.manage"
    MODELS_MANAGE = "models.manage"


class Role(StrEnum):
    ADMIN = "admin"
    LOAN_OFFICER = "loan_officer"
    REVIEWER = "reviewer"
    RISK_ANALYST = "risk_analyst"
    COLLECTOR = "collector"
    AUDITOR = "auditor"


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {P.USERS_MANAGE, P.API_KEYS_MANAGE, P.BUSINESS_DATE_SET, P.AUDIT_READ, P.APPROVALS_CHECK}
    ),
    Role.LOAN_OFFICER: frozenset(
        {
            P.CUSTOMERS_READ,
            P.CUSTOMERS_WRITE,
            P.PERSONAL_DATA_UNMASK,
            P.APPLICATIONS_CREATE,
            P.CONTRACTS_MANAGE,
            P.ARCHIVES_READ,
            P.LOANS_READ,
            P.LOANS_SERVICE,
        }
    ),
    Role.REVIEWER: frozenset(
        {
            P.CUSTOMERS_READ,
            P.PERSONAL_DATA_UNMASK,
            P.APPLICATIONS_REVIEW,
            P.APPROVALS_CHECK,
            P.FRAUD_MANAGE,
            P.LOANS_READ,
        }
    ),
    Role.RISK_ANALYST: frozenset(
        {
            P.CUSTOMERS_READ,
            P.RULES_MANAGE,
            P.MODELS_MANAGE,
            P.FRAUD_MANAGE,
            P.DATA_EXPORT_DEIDENTIFIED,
            P.LOANS_READ,
        }
    ),
    Role.COLLECTOR: frozenset(
        {P.CUSTOMERS_READ, P.PERSONAL_DATA_UNMASK, P.COLLECTIONS_WORK, P.LOANS_READ}
    ),
    Role.AUDITOR: frozenset(
        {P.AUDIT_READ, P.AUDIT_VERIFY, P.ARCHIVES_READ, P.CUSTOMERS_READ, P.LOANS_READ}
    ),
}

ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.ADMIN: ("系统管理员", "Administrator"),
    Role.LOAN_OFFICER: ("客户经理", "Loan officer"),
    Role.REVIEWER: ("审批员", "Reviewer"),
    Role.RISK_ANALYST: ("风险分析师", "Risk analyst"),
    Role.COLLECTOR: ("催收员", "Collector"),
    Role.AUDITOR: ("审计员", "Auditor"),
}


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise ValidationError(
            f"unknown role {text!r}; known roles: {', '.join(r.value for r in Role)}",
            code="identity.unknown_role",
            details={"role": text},
        ) from None


def permissions_of(roles: frozenset[Role]) -> frozenset[Permission]:
    perms: set[Permission] = set()
    for role in roles:
        perms |= ROLE_PERMISSIONS[role]
    return frozenset(perms)


@dataclass(frozen=True)
class LockoutPolicy:
    """Lock a console account after ``max_attempts`` consecutive failed logins."""

    max_attempts: int = 5
    lock_for: timedelta = timedelta(minutes=15)


USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


def validate_username(username: str) -> str:
    name = username.strip().lower()
    if not 3 <= len(name) <= 40 or not set(name) <= USERNAME_CHARS:
        raise ValidationError(
            "username must be 3-40 characters of a-z, 0-9, '.', '_' or '-'",
            code="identity.invalid_username",
        )
    return name


def validate_password_strength(password: str) -> None:
    """At least 10 characters mixing three of: lower, upper, digits, symbols."""
    classes = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    if len(password) < 10 or classes < 3:
        raise ValidationError(
            "password must have at least 10 characters and mix three of: lower case, "
            "upper case, digits, symbols",
            code="identity.weak_password",
        )


@dataclass(frozen=True)
class StaffUser:
    """A bank employee who uses the console. ``post`` is the job post (岗位), e.g. 信贷员."""

    id: int | None
    username: str
    display_name: str
    roles: frozenset[Role]
    password_hash: str
    post: str = ""
    branch: str = ""
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_of(self.roles)

    def can(self, permission: Permission) -> bool:
        return self.active and permission in self.permissions

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def after_failed_login(self, now: datetime, policy: LockoutPolicy) -> StaffUser:
        failures = self.failed_logins + 1
        locked = now + policy.lock_for if failures >= policy.max_attempts else self.locked_until
        return replace(self, failed_logins=failures, locked_until=locked)

    def after_successful_login(self) -> StaffUser:
        return replace(self, failed_logins=0, locked_until=None)


@dataclass(frozen=True)
class Principal:
    """Who is acting: a staff user, a partner's API key, a customer, or the system."""

    kind: str  # "staff" | "partner" | "customer" | "system"
    id: str
    permissions: frozenset[Permission] = frozenset()
    display: str = ""

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}"

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        if permission not in self.permissions:
            raise Forbidden(
                f"{self.ref} lacks the permission {permission.value}",
                code="auth.forbidden",
                details={"permission": permission.value},
            )


SYSTEM = Principal(kind="system", id="puhui", permissions=frozenset(Permission), display="system")


def staff_principal(user: StaffUser) -> Principal:
    return Principal(
        kind="staff", id=user.username, permissions=user.permissions, display=user.display_name
    )


# --- API keys for partners (scenario platforms) ------------------------------------------


@dataclass(frozen=True)
class ApiKey:
    """A partner's API key. Only a SHA-256 of the secret is stored (the secret is 256 random
    bits, so a slow hash adds nothing); ``prefix`` identifies the key in logs."""

    id: int | None
    partner: str
    prefix: str
    secret_hash: str
    scopes: frozenset[Permission]
    active: bool = True

    def principal(self) -> Principal:
        return Principal(
            kind="partner", id=self.prefix, permissions=self.scopes, display=self.partner
        )


PARTNER_GRANTABLE: frozenset[Permission] = frozenset(
    {Permission.CUSTOMERS_READ, Permission.APPLICATIONS_CREATE, Permission.LOANS_READ}
)


def validate_scopes(scopes: list[str]) -> frozenset[Permission]:
    out: set[Permission] = set()
    for scope in scopes:
        try:
            perm = Permission(scope)
        except ValueError:
            raise ValidationError(
                f"unknown scope {scope!r}", code="api_key.unknown_scope", details={"scope": scope}
            ) from None
        if perm not in PARTNER_GRANTABLE:
            raise ValidationError(
                f"scope {scope!r} cannot be granted to a partner",
                code="api_key.scope_not_grantable",
                details={"scope": scope},
            )
        out.add(perm)
    if not out:
        raise ValidationError("an API key needs at least one scope", code="api_key.no_scope")
    return frozenset(out)


# --- Maker-checker ----------------------------------------------------------------------


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PendingAction:
    """An action that waits for a second, different, authorised user (maker-checker, 双人复核).

    ``checker_permission`` is what the checker must hold; the maker may never check it.
    """

    id: int | None
    action: str
    payload: dict[str, Any]
    maker: str
    checker_permission: Permission
    status: ApprovalStatus = ApprovalStatus.PENDING
    checker: str | None = None
    reason: str = ""
    created_at: datetime | None = None
    decided_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def decide(
        self, checker: Principal, *, approve: bool, now: datetime, reason: str = ""
    ) -> PendingAction:
        if self.status is not ApprovalStatus.PENDING:
            raise Conflict(
                f"pending action {self.id} is already {self.status.value}",
                code="maker_checker.not_pending",
            )
        if checker.ref == self.maker:
            raise DomainError(
                "the maker of an action cannot also check it",
                code="maker_checker.same_user",
                kind=ErrorKind.FORBIDDEN,
            )
        checker.require(self.checker_permission)
        return replace(
            self,
            status=ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED,
            checker=checker.ref,
            decided_at=now,
            reason=reason,
        )

    def cancel(self, by: Principal, *, now: datetime) -> PendingAction:
        if self.status is not ApprovalStatus.PENDING:
            raise Conflict(
                "only a pending action can be cancelled", code="maker_checker.not_pending"
            )
        if by.ref != self.maker:
            raise Forbidden("only the maker can cancel", code="maker_checker.not_maker")
        return replace(self, status=ApprovalStatus.CANCELLED, decided_at=now)
