"""The SQL unit of work: one connection, one transaction, every repository on it."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.engine import Connection, Engine

from puhui.adapters.crypto.fieldcrypt import FieldCipher
from puhui.adapters.db import repositories as r
from puhui.adapters.db.contract_repository import ContractRepository
from puhui.adapters.db.credit_line_repository import CreditLineRepository
from puhui.adapters.db.engine import READ_ONLY
from puhui.adapters.db.evidence_repository import EvidenceLogRepository
from puhui.adapters.db.fraud_repository import FraudRepository
from puhui.adapters.db.lending_repositories import LedgerReadModel
from puhui.adapters.db.loan_repository import LoanRepository
from puhui.adapters.db.risk_repository import RiskRepository


class SqlUnitOfWork:
    def __init__(self, engine: Engine, cipher: FieldCipher, *, read_only: bool = False) -> None:
        self.engine = engine
        self.cipher = cipher
        self.read_only = read_only  # SQLite: no write lock taken (commit refused)
        self._conn: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        conn = self.engine.connect()
        if self.read_only:
            conn.execution_options(**{READ_ONLY: True})
        conn.begin()
        self._conn = conn
        self.users = r.StaffUserRepository(conn)
        self.sessions = r.SessionRepository(conn)
        self.api_keys = r.ApiKeyRepository(conn)
        self.pending = r.PendingActionRepository(conn)
        self.customers = r.CustomerRepository(conn, self.cipher)
        self.otps = r.OneTimeCodeRepository(conn)
        self.audit = r.AuditRepository(conn)
        self.access_log = r.AccessLogRepository(conn)
        self.state = r.PlatformStateRepository(conn)
        self.loans = LoanRepository(conn)
        self.ledger = LedgerReadModel(conn)
        self.credit_lines = CreditLineRepository(conn)
        self.risk = RiskRepository(conn, self.cipher)
        self.evidence = EvidenceLogRepository(conn)
        self.contracts = ContractRepository(conn, self.cipher)
        self.fraud = FraudRepository(conn, self.cipher)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._conn.close()
            self._conn = None

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "unit of work not entered"
        return self._conn

    def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit changes")
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()
