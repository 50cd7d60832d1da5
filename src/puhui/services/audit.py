"""Audit trail service: record each command, verify the chain (R-10.2g, R-M4.2)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from puhui.domain.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    ChainVerdict,
    seal,
    verify_chain,
)
from puhui.domain.errors import DomainError, ErrorKind
from puhui.domain.identity import Permission, Principal
from puhui.services.ports import ServiceContext, UnitOfWork

T = TypeVar("T")

# Failures worth a permanent record even though the command itself changed nothing.
SECURITY_KINDS = {ErrorKind.FORBIDDEN, ErrorKind.UNAUTHENTICATED, ErrorKind.LOCKED}


def record(
    ctx: ServiceContext,
    uow: UnitOfWork,
    *,
    actor: Principal | str,
    action: str,
    target: str,
    result: str = "ok",
    request_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """Append one hash-chained record inside the caller's unit of work."""
    # lock the chain head (serialises appenders on PostgreSQL), then the newest record's link
    tail = uow.audit.tail(lock=True)
    entry = AuditEntry(
        actor=actor if isinstance(actor, str) else actor.ref,
        action=action,
        target=target,
        result=result,
        request_id=request_id,
        details=dict(details or {}),
        occurred_at=ctx.clock(),
    )
    # as ``next_record(entry, last record, ...)``: only the last record's seq and hash count
    seq, prev_hash = (1, GENESIS_HASH) if tail is None else (tail[0] + 1, tail[1])
    rec = seal(entry, seq=seq, prev_hash=prev_hash, algorithm=ctx.policies.audit_algorithm)
    uow.audit.append(rec)
    return rec


def audited(
    ctx: ServiceContext,
    *,
    actor: Principal,
    action: str,
    request_id: str | None,
    body: Callable[[UnitOfWork], tuple[T, str, Mapping[str, Any]]],
) -> T:
    """Run ``body`` in one unit of work and audit it: all or nothing.

    ``body`` returns ``(result, target, details)``. On success the audit record commits with the
    change. On a security failure (denied, unauthenticated, locked) the change is rolled back and
    the refusal is recorded in a fresh unit of work. Plain bad input changes nothing at all.
    """
    with ctx.uow() as uow:
        try:
            value, target, details = body(uow)
        except DomainError as err:
            uow.rollback()
            if err.kind in SECURITY_KINDS:
                _record_refusal(ctx, actor, action, request_id, err)
            raise
        record(
            ctx,
            uow,
            actor=actor,
            action=action,
            target=target,
            request_id=request_id,
            details=details,
        )
        uow.commit()
        return value


def _record_refusal(
    ctx: ServiceContext, actor: Principal, action: str, request_id: str | None, err: DomainError
) -> None:
    with ctx.uow() as uow:
        record(
            ctx,
            uow,
            actor=actor,
            action=action,
            target=str(err.details.get("target", "-")),
            result=f"denied:{err.code}",
            request_id=request_id,
            details={k: v for k, v in err.details.items() if k != "target"},
        )
        uow.commit()


def verify_audit_chain(ctx: ServiceContext, actor: Principal) -> ChainVerdict:
    """Recompute every hash and compare with the stored head; name the first bad record."""
    actor.require(Permission.AUDIT_VERIFY)
    with ctx.uow() as uow:
        return verify_chain(uow.audit.iter_records(), head=uow.audit.head())


def recent_records(ctx: ServiceContext, actor: Principal, limit: int = 50) -> list[AuditRecord]:
    actor.require(Permission.AUDIT_READ)
    with ctx.uow() as uow:
        records: list[AuditRecord] = uow.audit.recent(limit)
        return records
