"""Staff users, console sessions, partner API keys and maker-checker (R-10.2i, R-M4.2)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from puhui.domain.errors import DomainError, ErrorKind, Unauthenticated
from puhui.domain.identity import (
    ApiKey,
    ApprovalStatus,
    PendingAction,
    Permission,
    Principal,
    Role,
    StaffUser,
    parse_role,
    staff_principal,
    validate_password_strength,
    validate_scopes,
    validate_username,
)
from puhui.services.audit import audited, record
from puhui.services.ports import ServiceContext, UnitOfWork


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CreateStaffUser:
    username: str
    display_name: str
    password: str
    roles: tuple[str, ...]
    post: str = ""
    branch: str = ""


@dataclass(frozen=True)
class StaffUserCreated:
    user: StaffUser | None
    pending: PendingAction | None  # set when the grant waits for a checker


def _build_user(ctx: ServiceContext, cmd: CreateStaffUser) -> StaffUser:
    username = validate_username(cmd.username)
    validate_password_strength(cmd.password)
    roles = frozenset(parse_role(r) for r in cmd.roles)
    if not roles:
        raise DomainError("a staff user needs at least one role", code="identity.no_role")
    display = " ".join(cmd.display_name.split())
    if not 1 <= len(display) <= 80:
        raise DomainError("display name must be 1-80 characters", code="identity.invalid_name")
    return StaffUser(
        id=None,
        username=username,
        display_name=display,
        roles=roles,
        password_hash=ctx.passwords.hash(cmd.password),
        post=cmd.post.strip()[:80],
        branch=cmd.branch.strip()[:40],
    )


def create_staff_user(
    ctx: ServiceContext, actor: Principal, cmd: CreateStaffUser, *, request_id: str | None = None
) -> StaffUserCreated:
    """Create a console user. Granting the admin role needs a second administrator
    (maker-checker): the user is then created when the checker approves."""

    def body(uow: UnitOfWork) -> tuple[StaffUserCreated, str, dict[str, Any]]:
        actor.require(Permission.USERS_MANAGE)
        user = _build_user(ctx, cmd)
        if uow.users.find_by_username(user.username) is not None:
            raise DomainError(
                f"username {user.username!r} is taken",
                code="staff_user.duplicate_username",
                kind=ErrorKind.CONFLICT,
            )
        roles = sorted(r.value for r in user.roles)
        if Role.ADMIN in user.roles and actor.kind != "system":
            pending = uow.pending.add(
                PendingAction(
                    id=None,
                    action="users.create",
                    payload={
                        "username": user.username,
                        "display_name": user.display_name,
                        "password_hash": user.password_hash,
                        "roles": roles,
                        "post": user.post,
                        "branch": user.branch,
                    },
                    maker=actor.ref,
                    checker_permission=Permission.USERS_MANAGE,
                ),
                now=ctx.clock(),
            )
            return (
                StaffUserCreated(None, pending),
                f"pending_action:{pending.id}",
                {"username": user.username, "roles": roles, "awaiting_checker": True},
            )
        saved = uow.users.add(user, now=ctx.clock())
        return (
            StaffUserCreated(saved, None),
            f"staff_user:{saved.id}",
            {
                "username": saved.username,
                "roles": roles,
            },
        )

    return audited(ctx, actor=actor, action="users.create", request_id=request_id, body=body)


def decide_pending_action(
    ctx: ServiceContext,
    actor: Principal,
    action_id: int,
    *,
    approve: bool,
    reason: str = "",
    request_id: str | None = None,
) -> PendingAction:
    """The checker's half of maker-checker: approve (and execute) or reject."""

    def body(uow: UnitOfWork) -> tuple[PendingAction, str, dict[str, Any]]:
        pending: PendingAction = uow.pending.get(action_id, for_update=True)
        decided = pending.decide(actor, approve=approve, now=ctx.clock(), reason=reason)
        uow.pending.save_decision(decided)
        details: dict[str, Any] = {"action": pending.action, "maker": pending.maker}
        if decided.status is ApprovalStatus.APPROVED:
            details["executed"] = _execute(ctx, uow, decided)
        return decided, f"pending_action:{action_id}", details

    verb = "approve" if approve else "reject"
    return audited(ctx, actor=actor, action=f"approvals.{verb}", request_id=request_id, body=body)


def _execute(ctx: ServiceContext, uow: UnitOfWork, action: PendingAction) -> str:
    if action.action == "users.create":
        p = action.payload
        user = uow.users.add(
            StaffUser(
                id=None,
                username=p["username"],
                display_name=p["display_name"],
                roles=frozenset(Role(r) for r in p["roles"]),
                password_hash=p["password_hash"],
                post=p["post"],
                branch=p["branch"],
            ),
            now=ctx.clock(),
        )
        return f"staff_user:{user.id}"
    if action.action in ("loans.write_off", "loans.charge_off"):
        from puhui.services.servicing import execute_two_person

        return execute_two_person(ctx, uow, action)
    if action.action == "fraud.list_remove":
        from puhui.services.fraud import execute_list_removal

        return execute_list_removal(ctx, uow, action)
    raise DomainError(f"no executor for {action.action}", code="maker_checker.unknown_action")


def list_pending(ctx: ServiceContext, actor: Principal) -> list[PendingAction]:
    actor.require(Permission.APPROVALS_CHECK)
    with ctx.uow() as uow:
        items: list[PendingAction] = uow.pending.list(ApprovalStatus.PENDING)
        return items


def list_staff_users(ctx: ServiceContext, actor: Principal) -> list[StaffUser]:
    actor.require(Permission.USERS_MANAGE)
    with ctx.uow() as uow:
        users: list[StaffUser] = uow.users.list()
        return users


# --- Console login and sessions ------------------------------------------------------------


@dataclass(frozen=True)
class StaffSession:
    token: str  # only ever handed to the browser; the database keeps its SHA-256
    csrf_token: str
    user: StaffUser


BAD_LOGIN = "wrong username or password"


def login_staff(
    ctx: ServiceContext, username: str, password: str, *, request_id: str | None = None
) -> StaffSession:
    """Check the password (argon2), count failures, lock after too many (R-M4.2)."""
    name = username.strip().lower()
    now = ctx.clock()
    with ctx.uow() as uow:
        user: StaffUser | None = uow.users.find_by_username(name)
        if user is None or not user.active:
            ctx.passwords.verify(_DUMMY_HASH.get(ctx), password)  # same time as a real check
            record(
                ctx,
                uow,
                actor=f"anonymous:{name[:40]}",
                action="auth.login",
                target="-",
                result="denied:auth.bad_credentials",
                request_id=request_id,
            )
            uow.commit()
            raise Unauthenticated(BAD_LOGIN, code="auth.bad_credentials")
        if user.is_locked(now):
            record(
                ctx,
                uow,
                actor=f"staff:{user.username}",
                action="auth.login",
                target=f"staff_user:{user.id}",
                result="denied:auth.locked",
                request_id=request_id,
            )
            uow.commit()
            raise DomainError(
                "this account is locked after too many failed logins; try again later",
                code="auth.locked",
                kind=ErrorKind.LOCKED,
            )
        if not ctx.passwords.verify(user.password_hash, password):
            failed = user.after_failed_login(now, ctx.policies.lockout)
            uow.users.update_login_state(failed)
            record(
                ctx,
                uow,
                actor=f"staff:{user.username}",
                action="auth.login",
                target=f"staff_user:{user.id}",
                result="denied:auth.bad_credentials",
                request_id=request_id,
                details={"failed_logins": failed.failed_logins},
            )
            uow.commit()
            raise Unauthenticated(BAD_LOGIN, code="auth.bad_credentials")
        user = user.after_successful_login()
        uow.users.update_login_state(user)
        if ctx.passwords.needs_rehash(user.password_hash):
            uow.users.update_password(user.id, ctx.passwords.hash(password))
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        uow.sessions.add_staff(
            token_hash(token), user.id, csrf, now, now + ctx.policies.session_ttl
        )
        record(
            ctx,
            uow,
            actor=f"staff:{user.username}",
            action="auth.login",
            target=f"staff_user:{user.id}",
            request_id=request_id,
        )
        uow.commit()
        return StaffSession(token=token, csrf_token=csrf, user=user)


class _DummyHash:
    """A hash to verify against for unknown users, so timing does not reveal usernames."""

    def __init__(self) -> None:
        self._cache: dict[int, str] = {}

    def get(self, ctx: ServiceContext) -> str:
        key = id(ctx.passwords)
        if key not in self._cache:
            self._cache[key] = ctx.passwords.hash(secrets.token_urlsafe(16))
        return self._cache[key]


_DUMMY_HASH = _DummyHash()


def resolve_staff_session(ctx: ServiceContext, token: str) -> tuple[StaffUser, str]:
    """Return the user and CSRF token of a live session; sliding expiry."""
    now = ctx.clock()
    with ctx.uow() as uow:
        row = uow.sessions.get_staff(token_hash(token))
        if row is None or row["revoked"] or row["expires_at"] <= now:
            raise Unauthenticated("session expired; please log in", code="auth.session_expired")
        user: StaffUser = uow.users.get(row["user_id"])
        if not user.active:
            raise Unauthenticated("account disabled", code="auth.disabled")
        uow.sessions.touch_staff(token_hash(token), now + ctx.policies.session_ttl)
        uow.commit()
        return user, str(row["csrf_token"])


def logout_staff(ctx: ServiceContext, token: str, *, request_id: str | None = None) -> None:
    with ctx.uow() as uow:
        row = uow.sessions.get_staff(token_hash(token))
        if row is None:
            return
        uow.sessions.revoke_staff(token_hash(token))
        user = uow.users.get(row["user_id"])
        record(
            ctx,
            uow,
            actor=staff_principal(user),
            action="auth.logout",
            target=f"staff_user:{user.id}",
            request_id=request_id,
        )
        uow.commit()


# --- Partner API keys -----------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedApiKey:
    key: ApiKey
    secret: str  # shown once: "phk_<prefix>_<secret>"


def create_api_key(
    ctx: ServiceContext,
    actor: Principal,
    partner: str,
    scopes: list[str],
    *,
    request_id: str | None = None,
) -> IssuedApiKey:
    def body(uow: UnitOfWork) -> tuple[IssuedApiKey, str, dict[str, Any]]:
        actor.require(Permission.API_KEYS_MANAGE)
        name = " ".join(partner.split())
        if not 2 <= len(name) <= 80:
            raise DomainError("partner name must be 2-80 characters", code="api_key.bad_partner")
        granted = validate_scopes(scopes)
        prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        key = uow.api_keys.add(
            ApiKey(None, name, prefix, token_hash(secret), granted),
            created_by=actor.ref,
            now=ctx.clock(),
        )
        issued = IssuedApiKey(key, f"phk_{prefix}_{secret}")
        return issued, f"api_key:{key.id}", {"partner": name, "scopes": sorted(granted)}

    return audited(ctx, actor=actor, action="api_keys.create", request_id=request_id, body=body)


def resolve_api_key(ctx: ServiceContext, presented: str) -> Principal:
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "phk":
        raise Unauthenticated("malformed API key", code="auth.bad_api_key")
    with ctx.uow() as uow:
        key: ApiKey | None = uow.api_keys.find_by_prefix(parts[1])
    if (
        key is None
        or not key.active
        or not hmac.compare_digest(key.secret_hash, token_hash(parts[2]))
    ):
        raise Unauthenticated("unknown or revoked API key", code="auth.bad_api_key")
    return key.principal()
