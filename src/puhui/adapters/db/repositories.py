"""Repositories: explicit mapping between rows and domain objects.

Personal fields of level 3 and above are encrypted on the way in and decrypted on the way out
by the unit of work's keyring (R-M4.2); their blind indexes make equality lookups possible
without decrypting the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from puhui.adapters.crypto.fieldcrypt import FieldCipher
from puhui.adapters.db import tables as t
from puhui.domain.audit import AuditRecord, ChainHead, HashAlgorithm
from puhui.domain.customers import CUSTOMER_ID_NUMBER, CUSTOMER_NAME, CUSTOMER_PHONE, Customer
from puhui.domain.errors import Conflict, NotFound
from puhui.domain.identifiers import MobileNumber, ResidentIdNumber
from puhui.domain.identity import (
    ApiKey,
    ApprovalStatus,
    PendingAction,
    Permission,
    Role,
    StaffUser,
)
from puhui.domain.otp import OneTimeCode
from puhui.domain.privacy import AccessLogEntry

# Statements run on every request (authentication, the audit record, the business date), built
# once: every value is a bound parameter, so SQLAlchemy reuses the statement's cache key and
# its compiled form instead of building and keying a new expression each time.
_SELECT_API_KEY = sa.select(t.api_keys).where(t.api_keys.c.prefix == sa.bindparam("prefix"))
_SELECT_AUDIT_HEAD = sa.select(t.audit_head).where(t.audit_head.c.id == 1)
_SELECT_AUDIT_HEAD_FOR_UPDATE = _SELECT_AUDIT_HEAD.with_for_update()
_SELECT_AUDIT_LAST = sa.select(t.audit_log).order_by(t.audit_log.c.seq.desc()).limit(1)
_SELECT_AUDIT_TAIL = (
    sa.select(t.audit_log.c.seq, t.audit_log.c.record_hash)
    .order_by(t.audit_log.c.seq.desc())
    .limit(1)
)
_INSERT_AUDIT = sa.insert(t.audit_log)
_UPDATE_AUDIT_HEAD = (
    sa.update(t.audit_head)
    .where(t.audit_head.c.id == 1)
    .values(seq=sa.bindparam("new_seq"), record_hash=sa.bindparam("new_hash"))
)
_INSERT_AUDIT_HEAD = sa.insert(t.audit_head)
_SELECT_STATE = sa.select(t.platform_state.c.value).where(
    t.platform_state.c.key == sa.bindparam("key")
)


class StaffUserRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _roles(self, user_id: int) -> frozenset[Role]:
        rows = self.conn.execute(
            sa.select(t.staff_user_roles.c.role).where(t.staff_user_roles.c.user_id == user_id)
        )
        return frozenset(Role(r) for (r,) in rows)

    def _to_domain(self, row: RowMapping) -> StaffUser:
        return StaffUser(
            id=row["id"],
            username=row["username"],
            display_name=row["display_name"],
            roles=self._roles(row["id"]),
            password_hash=row["password_hash"],
            post=row["post"],
            branch=row["branch"],
            active=row["active"],
            failed_logins=row["failed_logins"],
            locked_until=row["locked_until"],
        )

    def get(self, user_id: int) -> StaffUser:
        row = (
            self.conn.execute(sa.select(t.staff_users).where(t.staff_users.c.id == user_id))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"staff user {user_id} not found", code="staff_user.not_found")
        return self._to_domain(row)

    def find_by_username(self, username: str) -> StaffUser | None:
        row = (
            self.conn.execute(sa.select(t.staff_users).where(t.staff_users.c.username == username))
            .mappings()
            .first()
        )
        return None if row is None else self._to_domain(row)

    def list(self) -> list[StaffUser]:
        rows = self.conn.execute(sa.select(t.staff_users).order_by(t.staff_users.c.id)).mappings()
        return [self._to_domain(r) for r in rows]

    def add(self, user: StaffUser, *, now: datetime) -> StaffUser:
        if self.find_by_username(user.username) is not None:
            raise Conflict(
                f"username {user.username!r} is taken", code="staff_user.duplicate_username"
            )
        user_id = self.conn.execute(
            sa.insert(t.staff_users)
            .values(
                username=user.username,
                display_name=user.display_name,
                password_hash=user.password_hash,
                post=user.post,
                branch=user.branch,
                active=user.active,
                failed_logins=0,
                created_at=now,
            )
            .returning(t.staff_users.c.id)
        ).scalar_one()
        if user.roles:
            self.conn.execute(
                sa.insert(t.staff_user_roles),
                [{"user_id": user_id, "role": r.value} for r in sorted(user.roles)],
            )
        return self.get(user_id)

    def update_login_state(self, user: StaffUser) -> None:
        self.conn.execute(
            sa.update(t.staff_users)
            .where(t.staff_users.c.id == user.id)
            .values(failed_logins=user.failed_logins, locked_until=user.locked_until)
        )

    def update_password(self, user_id: int, password_hash: str) -> None:
        self.conn.execute(
            sa.update(t.staff_users)
            .where(t.staff_users.c.id == user_id)
            .values(password_hash=password_hash)
        )


class SessionRepository:
    """Console sessions (staff) and customer sessions, keyed by the SHA-256 of the token."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_staff(
        self, token_hash: str, user_id: int, csrf: str, now: datetime, expires: datetime
    ) -> None:
        self.conn.execute(
            sa.insert(t.staff_sessions).values(
                token_hash=token_hash,
                user_id=user_id,
                csrf_token=csrf,
                created_at=now,
                expires_at=expires,
            )
        )

    def get_staff(self, token_hash: str) -> RowMapping | None:
        return (
            self.conn.execute(
                sa.select(t.staff_sessions).where(t.staff_sessions.c.token_hash == token_hash)
            )
            .mappings()
            .first()
        )

    def touch_staff(self, token_hash: str, expires: datetime) -> None:
        self.conn.execute(
            sa.update(t.staff_sessions)
            .where(t.staff_sessions.c.token_hash == token_hash)
            .values(expires_at=expires)
        )

    def revoke_staff(self, token_hash: str) -> None:
        self.conn.execute(
            sa.update(t.staff_sessions)
            .where(t.staff_sessions.c.token_hash == token_hash)
            .values(revoked=True)
        )

    def add_customer(
        self, token_hash: str, customer_id: int, now: datetime, expires: datetime
    ) -> None:
        self.conn.execute(
            sa.insert(t.customer_sessions).values(
                token_hash=token_hash, customer_id=customer_id, created_at=now, expires_at=expires
            )
        )

    def get_customer(self, token_hash: str) -> RowMapping | None:
        return (
            self.conn.execute(
                sa.select(t.customer_sessions).where(t.customer_sessions.c.token_hash == token_hash)
            )
            .mappings()
            .first()
        )

    def revoke_customer(self, token_hash: str) -> None:
        self.conn.execute(
            sa.update(t.customer_sessions)
            .where(t.customer_sessions.c.token_hash == token_hash)
            .values(revoked=True)
        )


class ApiKeyRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _to_domain(row: RowMapping) -> ApiKey:
        return ApiKey(
            id=row["id"],
            partner=row["partner"],
            prefix=row["prefix"],
            secret_hash=row["secret_hash"],
            scopes=frozenset(Permission(s) for s in row["scopes"].split(",") if s),
            active=row["active"],
        )

    def add(self, key: ApiKey, *, created_by: str, now: datetime) -> ApiKey:
        key_id = self.conn.execute(
            sa.insert(t.api_keys)
            .values(
                partner=key.partner,
                prefix=key.prefix,
                secret_hash=key.secret_hash,
                scopes=",".join(sorted(s.value for s in key.scopes)),
                active=key.active,
                created_by=created_by,
                created_at=now,
            )
            .returning(t.api_keys.c.id)
        ).scalar_one()
        return ApiKey(key_id, key.partner, key.prefix, key.secret_hash, key.scopes, key.active)

    def find_by_prefix(self, prefix: str) -> ApiKey | None:
        row = self.conn.execute(_SELECT_API_KEY, {"prefix": prefix}).mappings().first()
        return None if row is None else self._to_domain(row)

    def list(self) -> list[ApiKey]:
        rows = self.conn.execute(sa.select(t.api_keys).order_by(t.api_keys.c.id)).mappings()
        return [self._to_domain(r) for r in rows]

    def deactivate(self, key_id: int) -> None:
        self.conn.execute(
            sa.update(t.api_keys).where(t.api_keys.c.id == key_id).values(active=False)
        )


class PendingActionRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _to_domain(row: RowMapping) -> PendingAction:
        return PendingAction(
            id=row["id"],
            action=row["action"],
            payload=json.loads(row["payload"]),
            maker=row["maker"],
            checker_permission=Permission(row["checker_permission"]),
            status=ApprovalStatus(row["status"]),
            checker=row["checker"],
            reason=row["reason"],
            created_at=row["created_at"],
            decided_at=row["decided_at"],
        )

    def add(self, action: PendingAction, *, now: datetime) -> PendingAction:
        action_id = self.conn.execute(
            sa.insert(t.pending_actions)
            .values(
                action=action.action,
                payload=json.dumps(action.payload, sort_keys=True, ensure_ascii=False),
                maker=action.maker,
                checker_permission=action.checker_permission.value,
                status=action.status.value,
                created_at=now,
            )
            .returning(t.pending_actions.c.id)
        ).scalar_one()
        return self.get(action_id)

    def get(self, action_id: int, *, for_update: bool = False) -> PendingAction:
        query = sa.select(t.pending_actions).where(t.pending_actions.c.id == action_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(f"pending action {action_id} not found", code="maker_checker.not_found")
        return self._to_domain(row)

    def save_decision(self, action: PendingAction) -> None:
        self.conn.execute(
            sa.update(t.pending_actions)
            .where(t.pending_actions.c.id == action.id)
            .values(
                status=action.status.value,
                checker=action.checker,
                reason=action.reason,
                decided_at=action.decided_at,
            )
        )

    def list(self, status: ApprovalStatus | None = None) -> list[PendingAction]:
        query = sa.select(t.pending_actions).order_by(t.pending_actions.c.id)
        if status is not None:
            query = query.where(t.pending_actions.c.status == status.value)
        return [self._to_domain(r) for r in self.conn.execute(query).mappings()]


class CustomerRepository:
    """Customers with phone, name and ID number encrypted at rest (level 3, R-M4.2)."""

    def __init__(self, conn: Connection, cipher: FieldCipher) -> None:
        self.conn = conn
        self.keyring = cipher

    def phone_index(self, phone: MobileNumber) -> str:
        return self.keyring.blind_index(str(phone), context=CUSTOMER_PHONE.name)

    def id_number_index(self, id_number: ResidentIdNumber) -> str:
        return self.keyring.blind_index(str(id_number), context=CUSTOMER_ID_NUMBER.name)

    def _dec(self, token: str | None, context: str) -> str | None:
        return None if token is None else self.keyring.decrypt(token, context=context)

    def _to_domain(self, row: RowMapping) -> Customer:
        id_text = self._dec(row["id_number_enc"], CUSTOMER_ID_NUMBER.name)
        return Customer(
            id=row["id"],
            phone=MobileNumber.parse(
                self.keyring.decrypt(row["phone_enc"], context=CUSTOMER_PHONE.name)
            ),
            name=self._dec(row["name_enc"], CUSTOMER_NAME.name),
            id_number=None if id_text is None else ResidentIdNumber.parse(id_text),
            created_on=row["created_on"],
            created_at=row["created_at"],
        )

    def add(self, customer: Customer, *, today: date, now: datetime) -> Customer:
        if self.find_by_phone(customer.phone) is not None:
            raise Conflict("a customer with this phone exists", code="customer.duplicate_phone")
        customer_id = self.conn.execute(
            sa.insert(t.customers)
            .values(
                phone_enc=self.keyring.encrypt(str(customer.phone), context=CUSTOMER_PHONE.name),
                phone_index=self.phone_index(customer.phone),
                created_on=today,
                created_at=now,
            )
            .returning(t.customers.c.id)
        ).scalar_one()
        if customer.id_number is not None and customer.name is not None:
            self.save_identity(customer_id, customer.name, customer.id_number)
        return self.get(customer_id)

    def save_identity(self, customer_id: int, name: str, id_number: ResidentIdNumber) -> None:
        index = self.id_number_index(id_number)
        other = self.conn.execute(
            sa.select(t.customers.c.id).where(
                t.customers.c.id_number_index == index, t.customers.c.id != customer_id
            )
        ).first()
        if other is not None:
            raise Conflict(
                "this ID number is registered to another customer",
                code="customer.duplicate_id_number",
            )
        self.conn.execute(
            sa.update(t.customers)
            .where(t.customers.c.id == customer_id)
            .values(
                name_enc=self.keyring.encrypt(name, context=CUSTOMER_NAME.name),
                id_number_enc=self.keyring.encrypt(str(id_number), context=CUSTOMER_ID_NUMBER.name),
                id_number_index=index,
            )
        )

    def get(self, customer_id: int) -> Customer:
        row = (
            self.conn.execute(sa.select(t.customers).where(t.customers.c.id == customer_id))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"customer {customer_id} not found", code="customer.not_found")
        return self._to_domain(row)

    def find_by_phone(self, phone: MobileNumber) -> Customer | None:
        row = (
            self.conn.execute(
                sa.select(t.customers).where(t.customers.c.phone_index == self.phone_index(phone))
            )
            .mappings()
            .first()
        )
        return None if row is None else self._to_domain(row)

    def list(self, limit: int = 100, offset: int = 0) -> list[Customer]:
        rows = self.conn.execute(
            sa.select(t.customers).order_by(t.customers.c.id).limit(limit).offset(offset)
        ).mappings()
        return [self._to_domain(r) for r in rows]

    def iter_all(self) -> Iterator[Customer]:
        for row in self.conn.execute(sa.select(t.customers).order_by(t.customers.c.id)).mappings():
            yield self._to_domain(row)

    def rotate_keys(self) -> int:
        """Re-encrypt every field not under the active key; returns the number of rows changed."""
        changed = 0
        columns = (
            ("phone_enc", CUSTOMER_PHONE.name),
            ("name_enc", CUSTOMER_NAME.name),
            ("id_number_enc", CUSTOMER_ID_NUMBER.name),
        )
        for row in self.conn.execute(sa.select(t.customers)).mappings().all():
            values: dict[str, Any] = {}
            for column, context in columns:
                token = row[column]
                if token is not None and self.keyring.needs_rotation(token):
                    values[column] = self.keyring.reencrypt(token, context=context)
            if values:
                self.conn.execute(
                    sa.update(t.customers).where(t.customers.c.id == row["id"]).values(**values)
                )
                changed += 1
        return changed


class OneTimeCodeRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, otp: OneTimeCode, *, now: datetime) -> None:
        self.conn.execute(
            sa.insert(t.one_time_codes).values(
                phone_index=otp.phone_index,
                code_hash=otp.code_hash,
                purpose=otp.purpose,
                expires_at=otp.expires_at,
                created_at=now,
            )
        )

    def latest(self, phone_index: str, purpose: str) -> OneTimeCode | None:
        row = (
            self.conn.execute(
                sa.select(t.one_time_codes)
                .where(
                    t.one_time_codes.c.phone_index == phone_index,
                    t.one_time_codes.c.purpose == purpose,
                )
                .order_by(t.one_time_codes.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return OneTimeCode(
            id=row["id"],
            phone_index=row["phone_index"],
            code_hash=row["code_hash"],
            purpose=row["purpose"],
            expires_at=row["expires_at"],
            attempts=row["attempts"],
            consumed=row["consumed"],
        )

    def count_since(self, phone_index: str, since: datetime) -> int:
        return int(
            self.conn.execute(
                sa.select(sa.func.count())
                .select_from(t.one_time_codes)
                .where(
                    t.one_time_codes.c.phone_index == phone_index,
                    t.one_time_codes.c.created_at >= since,
                )
            ).scalar_one()
        )

    def save(self, otp: OneTimeCode) -> None:
        self.conn.execute(
            sa.update(t.one_time_codes)
            .where(t.one_time_codes.c.id == otp.id)
            .values(attempts=otp.attempts, consumed=otp.consumed)
        )


class AuditRepository:
    """The append-only audit log. Only ``append`` writes; there is no update or delete."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _to_domain(row: RowMapping) -> AuditRecord:
        return AuditRecord(
            seq=row["seq"],
            occurred_at=row["occurred_at"],
            actor=row["actor"],
            action=row["action"],
            target=row["target"],
            result=row["result"],
            request_id=row["request_id"],
            details=json.loads(row["details"]),
            prev_hash=row["prev_hash"],
            record_hash=row["record_hash"],
            algorithm=HashAlgorithm(row["algorithm"]),
        )

    def head(self, *, for_update: bool = False) -> ChainHead | None:
        query = _SELECT_AUDIT_HEAD_FOR_UPDATE if for_update else _SELECT_AUDIT_HEAD
        row = self.conn.execute(query).mappings().first()
        return None if row is None else ChainHead(seq=row["seq"], record_hash=row["record_hash"])

    def last(self) -> AuditRecord | None:
        row = self.conn.execute(_SELECT_AUDIT_LAST).mappings().first()
        return None if row is None else self._to_domain(row)

    def tail(self, *, lock: bool = False) -> tuple[int, str] | None:
        """``(seq, record_hash)`` of the newest record (what the next record links to), or
        None for an empty log. ``lock``: first lock the chain head row, so that appenders take
        turns (PostgreSQL ``SELECT ... FOR UPDATE``); on SQLite the unit of work's
        ``BEGIN IMMEDIATE`` already holds the database's write lock, and the head is not read."""
        if lock and self.conn.dialect.name != "sqlite":
            self.conn.execute(_SELECT_AUDIT_HEAD_FOR_UPDATE)
        row = self.conn.execute(_SELECT_AUDIT_TAIL).first()
        return None if row is None else (int(row[0]), str(row[1]))

    def append(self, record: AuditRecord) -> None:
        self.conn.execute(
            _INSERT_AUDIT,
            {
                "seq": record.seq,
                "occurred_at": record.occurred_at,
                "actor": record.actor,
                "action": record.action,
                "target": record.target,
                "result": record.result,
                "request_id": record.request_id,
                "details": json.dumps(dict(record.details), sort_keys=True, ensure_ascii=False),
                "prev_hash": record.prev_hash,
                "record_hash": record.record_hash,
                "algorithm": record.algorithm.value,
            },
        )
        updated = self.conn.execute(
            _UPDATE_AUDIT_HEAD, {"new_seq": record.seq, "new_hash": record.record_hash}
        )
        if updated.rowcount == 0:
            self.conn.execute(
                _INSERT_AUDIT_HEAD, {"id": 1, "seq": record.seq, "record_hash": record.record_hash}
            )

    def iter_records(self, batch: int = 5000) -> Iterator[AuditRecord]:
        """Stream the chain in sequence order, in batches (constant memory)."""
        after = 0
        while True:
            rows = (
                self.conn.execute(
                    sa.select(t.audit_log)
                    .where(t.audit_log.c.seq > after)
                    .order_by(t.audit_log.c.seq)
                    .limit(batch)
                )
                .mappings()
                .all()
            )
            if not rows:
                return
            for row in rows:
                yield self._to_domain(row)
            after = rows[-1]["seq"]

    def recent(self, limit: int = 50, *, actor: str | None = None) -> list[AuditRecord]:
        query = sa.select(t.audit_log).order_by(t.audit_log.c.seq.desc()).limit(limit)
        if actor:
            query = query.where(t.audit_log.c.actor == actor)
        return [self._to_domain(r) for r in self.conn.execute(query).mappings()]

    def count(self) -> int:
        return int(
            self.conn.execute(sa.select(sa.func.count()).select_from(t.audit_log)).scalar_one()
        )


class AccessLogRepository:
    """Who read which level-2+ personal data, when, for what, with what result (R-M4.2)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, entry: AccessLogEntry) -> None:
        self.conn.execute(
            sa.insert(t.personal_data_access_log).values(
                occurred_at=entry.occurred_at,
                subject=entry.subject,
                object=entry.object,
                fields=",".join(entry.fields),
                operation=entry.operation,
                purpose=entry.purpose,
                result=entry.result,
                request_id=entry.request_id,
            )
        )

    def list(self, *, object_ref: str | None = None, limit: int = 100) -> list[AccessLogEntry]:
        query = (
            sa.select(t.personal_data_access_log)
            .order_by(t.personal_data_access_log.c.id.desc())
            .limit(limit)
        )
        if object_ref is not None:
            query = query.where(t.personal_data_access_log.c.object == object_ref)
        return [
            AccessLogEntry(
                subject=r["subject"],
                object=r["object"],
                fields=tuple(r["fields"].split(",")),
                operation=r["operation"],
                purpose=r["purpose"],
                result=r["result"],
                occurred_at=r["occurred_at"],
                request_id=r["request_id"],
            )
            for r in self.conn.execute(query).mappings()
        ]


class PlatformStateRepository:
    BUSINESS_DATE = "business_date"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, key: str) -> str | None:
        value: str | None = self.conn.execute(_SELECT_STATE, {"key": key}).scalar_one_or_none()
        return value

    def set(self, key: str, value: str) -> None:
        updated = self.conn.execute(
            sa.update(t.platform_state).where(t.platform_state.c.key == key).values(value=value)
        )
        if updated.rowcount == 0:
            self.conn.execute(sa.insert(t.platform_state).values(key=key, value=value))
