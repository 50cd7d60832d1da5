"""The audit log is hash-chained: any change or deletion is found and named (R-10.2g, R-M4.2)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from puhui.adapters.cli.main import app as cli
from puhui.adapters.db import tables as t
from puhui.bootstrap import Platform
from puhui.domain.identity import SYSTEM
from puhui.services.audit import verify_audit_chain
from tests.integration.conftest import make_user

runner = CliRunner()


@pytest.fixture
def chain(platform: Platform) -> Platform:
    for i in range(6):
        make_user(platform, f"user{i}", "auditor")
    assert verify_audit_chain(platform.ctx, SYSTEM).ok
    return platform


def cli_verify(platform: Platform):
    return runner.invoke(
        cli,
        ["audit", "verify"],
        env={"PUHUI_DATABASE_URL": platform.settings.database_url, "PUHUI_ENVIRONMENT": "test"},
    )


def test_clean_chain_verifies_through_the_cli(chain: Platform) -> None:
    result = cli_verify(chain)
    assert result.exit_code == 0, result.output
    assert "6 records verified" in result.output


@pytest.mark.parametrize(
    "column",
    ["actor", "action", "target", "result", "details", "occurred_at", "record_hash", "prev_hash"],
)
def test_changing_any_field_of_a_record_is_named(chain: Platform, column: str) -> None:
    values = {
        "actor": "staff:mallory",
        "action": "users.delete",
        "target": "staff_user:99",
        "result": "ok!",
        "details": '{"username": "forged"}',
        "occurred_at": t.audit_log.c.occurred_at,
        "record_hash": "f" * 64,
        "prev_hash": "e" * 64,
    }
    with chain.engine.begin() as conn:
        if column == "occurred_at":
            row = conn.execute(
                sa.select(t.audit_log.c.occurred_at).where(t.audit_log.c.seq == 4)
            ).scalar_one()
            conn.execute(
                sa.update(t.audit_log)
                .where(t.audit_log.c.seq == 4)
                .values(occurred_at=row.replace(microsecond=(row.microsecond + 1) % 1_000_000))
            )
        else:
            conn.execute(
                sa.update(t.audit_log)
                .where(t.audit_log.c.seq == 4)
                .values({column: values[column]})
            )
    verdict = verify_audit_chain(chain.ctx, SYSTEM)
    assert not verdict.ok and verdict.first_bad_seq == 4
    result = cli_verify(chain)
    assert result.exit_code == 1
    assert "4" in result.output and "BROKEN" in result.output


def test_deleting_a_record_is_named(chain: Platform) -> None:
    with chain.engine.begin() as conn:
        conn.execute(sa.delete(t.audit_log).where(t.audit_log.c.seq == 3))
    verdict = verify_audit_chain(chain.ctx, SYSTEM)
    assert not verdict.ok and verdict.first_bad_seq == 3 and verdict.problem == "deleted"
    assert cli_verify(chain).exit_code == 1


def test_deleting_the_newest_record_is_found_through_the_head(chain: Platform) -> None:
    with chain.engine.begin() as conn:
        conn.execute(sa.delete(t.audit_log).where(t.audit_log.c.seq == 6))
    verdict = verify_audit_chain(chain.ctx, SYSTEM)
    assert not verdict.ok and verdict.problem == "truncated"
    assert cli_verify(chain).exit_code == 1


def test_a_rewritten_tail_is_found(chain: Platform) -> None:
    """Recomputing the hash of a changed record is not enough: the next record still links."""
    from puhui.domain.audit import AuditEntry, seal

    with chain.ctx.uow() as uow:
        records = list(uow.audit.iter_records())
    victim = records[1]
    forged_entry = AuditEntry(
        actor="staff:mallory",
        action=victim.action,
        target=victim.target,
        result=victim.result,
        request_id=victim.request_id,
        details=victim.details,
        occurred_at=victim.occurred_at,
    )
    forged = seal(
        forged_entry, seq=victim.seq, prev_hash=victim.prev_hash, algorithm=victim.algorithm
    )
    with chain.engine.begin() as conn:
        conn.execute(
            sa.update(t.audit_log)
            .where(t.audit_log.c.seq == victim.seq)
            .values(actor=forged.actor, record_hash=forged.record_hash)
        )
    verdict = verify_audit_chain(chain.ctx, SYSTEM)
    assert not verdict.ok and verdict.first_bad_seq == victim.seq + 1


def test_records_carry_who_what_when_target_result_request_id(platform: Platform) -> None:
    from fastapi.testclient import TestClient

    from puhui.adapters.web.app import create_app

    make_user(platform, "adm", "admin")
    with TestClient(create_app(platform)) as client:
        r = client.post(
            "/api/v1/auth/login",
            json={"username": "adm", "password": "Correct-Horse-42"},
            headers={"X-Request-ID": "req-audit-1"},
        )
        assert r.status_code == 200
    with platform.ctx.uow() as uow:
        last = uow.audit.last()
    assert (last.actor, last.action, last.target, last.result, last.request_id) == (
        "staff:adm",
        "auth.login",
        "staff_user:1",
        "ok",
        "req-audit-1",
    )
    assert last.occurred_at.tzinfo is not None
