"""The ``puhui`` CLI: real commands against the test database; bad input prints one readable
line, exits non-zero and changes nothing."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from puhui.adapters.cli.main import app as cli
from puhui.bootstrap import Platform
from tests.integration.conftest import table_counts

runner = CliRunner()


def run(platform: Platform, *args: str, **env: str):
    return runner.invoke(
        cli,
        list(args),
        env={
            "PUHUI_DATABASE_URL": platform.settings.database_url,
            "PUHUI_ENVIRONMENT": "test",
            "PUHUI_SMS_LOG_PATH": platform.settings.sms_log_path,
            **env,
        },
    )


def test_users_create_and_list(platform: Platform) -> None:
    result = run(
        platform,
        "users",
        "create",
        "--username",
        "zhou.auditor",
        "--role",
        "auditor",
        "--display-name",
        "周稽核",
        "--post",
        "内审岗",
        "--password-env",
        "PW",
        PW="Audit-pass-2026",
    )
    assert result.exit_code == 0, result.output
    assert "created staff user zhou.auditor" in result.output
    listed = run(platform, "users", "list")
    assert "zhou.auditor\tauditor\t内审岗\tactive" in listed.output


BAD = [
    (
        ["users", "create", "--username", "A B", "--role", "auditor", "--password-env", "PW"],
        "identity.invalid_username",
    ),
    (
        ["users", "create", "--username", "abc", "--role", "auditor", "--password-env", "PW_WEAK"],
        "identity.weak_password",
    ),
    (
        ["users", "create", "--username", "abc", "--role", "wizard", "--password-env", "PW"],
        "identity.unknown_role",
    ),
    (["users", "create", "--username", "abc", "--role", "auditor"], "identity.no_password"),
    (["business-date", "set", "2026-02-30"], "business_date.invalid"),
    (["business-date", "set", "1999-01-01"], "business_date.backwards"),
    (["data", "export"], "export.identified_refused"),
]


@pytest.mark.parametrize(("args", "code"), BAD, ids=[b[1] for b in BAD])
def test_bad_input_one_line_nonzero_and_no_change(
    platform: Platform, args: list[str], code: str
) -> None:
    before = table_counts(platform)
    result = run(platform, *args, PW="Good-pass-2026", PW_WEAK="weak")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error [{code}]: ")
    assert table_counts(platform) == before


def test_business_date_moves_forward_and_is_audited(platform: Platform) -> None:
    assert run(platform, "business-date", "set", "2030-01-15").exit_code == 0
    assert run(platform, "business-date", "show").output.strip() == "2030-01-15"
    with platform.ctx.uow() as uow:
        last = uow.audit.last()
    assert last.action == "platform.set_business_date" and last.details["to"] == "2030-01-15"


def test_demo_load_is_idempotent(platform: Platform) -> None:
    first = run(platform, "demo", "load")
    assert first.exit_code == 0 and "6 new users, 4 new customers" in first.output
    counts = table_counts(platform)
    second = run(platform, "demo", "load")
    assert "0 new users, 0 new customers" in second.output
    assert table_counts(platform)["customers"] == counts["customers"]
    assert table_counts(platform)["staff_users"] == counts["staff_users"]


def test_demo_is_refused_in_production(platform: Platform) -> None:
    result = run(
        platform,
        "demo",
        "load",
        PUHUI_ENVIRONMENT="production",
        PUHUI_SECRET_KEY="x" * 40,
        PUHUI_FIELD_KEYS="k1:MDEyMzQ1Njc4OWFiY2RlZg==;active=k1",
        PUHUI_INDEX_KEY="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    )
    assert result.exit_code == 2 and "demo.not_allowed" in result.output


def test_default_secrets_are_refused_outside_development(platform: Platform) -> None:
    result = run(platform, "business-date", "show", PUHUI_ENVIRONMENT="production")
    assert result.exit_code == 2
    assert "development secrets" in result.output and "PUHUI_SECRET_KEY" in result.output


@pytest.mark.parametrize(
    "group", ["", "db", "users", "audit", "demo", "data", "business-date", "keys"]
)
def test_help_for_every_command_group(platform: Platform, group: str) -> None:
    result = run(platform, *([group] if group else []), "--help")
    assert result.exit_code == 0 and "Usage" in result.output
