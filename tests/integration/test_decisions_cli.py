"""Credit decisions from the shell on both databases (R-9.2, R-11.2): ``puhui consent``,
``puhui decide``, ``puhui rules check`` and ``puhui rules simulate`` against the test database;
bad input prints one ``error [code]`` line, exits 2 and saves nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from puhui.adapters.cli.main import app as cli
from puhui.adapters.providers.datasources import sandbox_uscc
from puhui.adapters.risk_setup import DEFAULT_RULE_SET
from puhui.bootstrap import Platform
from puhui.domain.identity import SYSTEM
from puhui.services.platform import set_business_date
from tests.integration.conftest import table_counts
from tests.integration.test_decisions import (
    CHAMPION,
    PURPOSES,
    RULE_IDS,
    TODAY,
    application,
    assert_complete,
    person,
)

runner = CliRunner()
DECISION_TABLES = ("consents", "source_cache", "credit_applications", "credit_decisions")


def run(platform: Platform, *args: str) -> Any:
    return runner.invoke(
        cli,
        list(args),
        env={
            "PUHUI_DATABASE_URL": platform.settings.database_url,
            "PUHUI_ENVIRONMENT": "test",
            "PUHUI_SMS_LOG_PATH": platform.settings.sms_log_path,
        },
    )


@pytest.fixture
def today(platform: Platform) -> None:
    set_business_date(platform.ctx, SYSTEM, TODAY, allow_backwards=True)


def grant(platform: Platform, resident_id: str) -> list[str]:
    ids = []
    for purpose in PURPOSES:
        result = run(
            platform,
            "consent",
            "grant",
            "--resident-id",
            resident_id,
            "--purpose",
            purpose,
            "--text-version",
            "v2026.1",
        )
        assert result.exit_code == 0, result.output
        assert re.match(rf"^cs-[0-9a-f]{{16}} {purpose} ", result.stdout), result.stdout
        ids.append(result.stdout.split()[0])
    return ids


def write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def decide_json(platform: Platform, path: str) -> dict[str, Any]:
    result = run(platform, "decide", "--application", path, "--format", "json")
    assert result.exit_code == 0, result.output
    decision: dict[str, Any] = json.loads(result.stdout)
    assert_complete(decision)
    return decision


def test_consent_and_decide_from_the_shell(platform: Platform, today: None, tmp_path: Path) -> None:
    rid = person(900, day=20)
    consent_ids = grant(platform, rid)
    listed = run(platform, "consent", "list", "--resident-id", rid)
    assert listed.exit_code == 0 and all(c in listed.stdout for c in consent_ids)
    path = write(tmp_path, "app.json", application("CLI-1", rid, sandbox_uscc(serial=80)))

    text = run(platform, "decide", "--application", path)
    assert text.exit_code == 0, text.output
    out = text.stdout
    assert out.startswith("application 1 (CLI-1): APPROVE — status approved, arm champion")
    assert "SANDBOX" in out and "route ROUTE_APPROVE" in out
    assert f"rules: {len(RULE_IDS)} evaluated, 0 fired" in out
    assert re.search(r"record hash [0-9a-f]{64}", out)
    assert rid not in out

    decision = decide_json(platform, path)  # the same application again: the stored decision
    assert decision["application_id"] == 1 and decision["outcome"] == "approve"
    assert decision["record_hash"] in out
    assert decision["explanation"]["versions"] == CHAMPION.versions
    assert all(s["sandbox"] for s in decision["explanation"]["sources"].values() if s["fetched_at"])
    assert table_counts(platform)["credit_decisions"] == 1

    revoked = run(platform, "consent", "revoke", consent_ids[0])  # credit_report
    assert revoked.exit_code == 0 and "revoked at" in revoked.stdout, revoked.output
    again = run(platform, "consent", "revoke", consent_ids[0])
    assert again.exit_code == 2 and "error [consent.already_revoked]" in again.output


def test_rules_check_lists_the_baseline(platform: Platform, tmp_path: Path) -> None:
    result = run(platform, "rules", "check", "src/puhui/config/rules/admission-baseline.json")
    assert result.exit_code == 0, result.output
    head, *rules = result.stdout.splitlines()
    assert head == f"admission-baseline 1.0.0 sha256:{CHAMPION.rule_set.content_hash}"
    assert len(rules) == 26 and [line.split()[0] for line in rules] == RULE_IDS
    assert "AML-001" in rules[6] and "aml" in rules[6] and "decline" in rules[6]
    broken = write(tmp_path, "broken.json", {"id": "x", "version": "1", "nodes": []})
    bad = run(platform, "rules", "check", broken)
    assert bad.exit_code == 2 and "error [risk.rule_set.invalid]" in bad.output


def _candidate(tmp_path: Path) -> str:
    """The baseline with LEG-001 ("under 18") turned into "under 100": it declines everyone."""
    document = json.loads(DEFAULT_RULE_SET.read_text(encoding="utf-8"))
    document["version"] = "1.0.1-strict"
    table = next(n for n in document["nodes"] if n["type"] == "decisionTableNode")["content"]
    column = next(i["id"] for i in table["inputs"] if i["field"] == "applicant_age")
    row = next(r for r in table["rules"] if r["_id"] == "LEG-001")
    assert row[column] == "< 18"
    row[column] = "< 100"
    return write(tmp_path, "strict.json", document)


def test_rules_simulate_reports_counts_and_the_swap_set(
    platform: Platform, today: None, tmp_path: Path
) -> None:
    people = [(900, 21, 81), (901, 15, 82), (914, 15, 11)]  # approve, decline, review
    outcomes = []
    for code, day, serial in people:
        rid = person(code, day=day)
        grant(platform, rid)
        path = write(
            tmp_path, f"{code}.json", application(f"SIM-{code}", rid, sandbox_uscc(serial=serial))
        )
        outcomes.append(decide_json(platform, path)["outcome"])
    assert outcomes == ["approve", "decline", "review"]
    before = table_counts(platform)

    # the champion's own rule set re-decides every stored application the same way
    same = run(
        platform, "rules", "simulate", "--rule-set", str(DEFAULT_RULE_SET), "--format", "json"
    )
    assert same.exit_code == 0, same.output
    report = json.loads(same.stdout)
    assert report["applications"] == 3
    expected = {"approve": 1, "review": 1, "decline": 1}
    assert report["champion"]["counts"] == report["candidate"]["counts"] == expected
    assert (report["swap_in"], report["swap_out"], report["changed"]) == (0, 0, [])
    assert report["champion"]["versions"] == CHAMPION.versions

    strict = _candidate(tmp_path)
    result = run(platform, "rules", "simulate", "--rule-set", strict, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["candidate"]["counts"] == {"approve": 0, "review": 0, "decline": 3}
    assert report["candidate"]["versions"]["rule_set"].startswith(
        "admission-baseline@1.0.1-strict#"
    )
    assert report["candidate"]["rules_fired"]["LEG-001"] == 3
    assert "LEG-001" not in report["champion"]["rules_fired"]
    assert (report["swap_in"], report["swap_out"]) == (0, 1)
    assert report["changed"] == [
        {"application": "SIM-900", "champion": "approve", "candidate": "decline"},
        {"application": "SIM-914", "champion": "review", "candidate": "decline"},
    ]
    assert report["candidate"]["expected_bad_rate"] is None
    text = run(platform, "rules", "simulate", "--rule-set", strict)
    assert text.exit_code == 0, text.output
    assert "3 stored applications re-decided" in text.stdout
    assert "swap-in 0, swap-out 1" in text.stdout
    assert "SIM-900: approve -> decline" in text.stdout
    nothing = run(platform, "rules", "simulate")
    assert nothing.exit_code == 2 and "error [cli.no_candidate]" in nothing.output
    assert table_counts(platform) == before  # a simulation writes nothing


def test_a_bad_application_file_exits_2_with_the_code(
    platform: Platform, today: None, tmp_path: Path
) -> None:
    rid = person(900, day=22)
    grant(platform, rid)
    good = application("CLI-BAD", rid, sandbox_uscc(serial=83))
    wrong_digit = rid[:-1] + ("0" if rid[-1] != "0" else "1")
    without_consent = application("CLI-NC", person(900, day=23), sandbox_uscc(serial=84))
    before = table_counts(platform)
    for data, code in (
        ({**good, "applicant_resident_id": wrong_digit}, "risk.application.invalid"),
        ({**good, "colour": "red"}, "risk.application.invalid"),
        ({**good, "requested_term_months": 48}, "risk.application.inconsistent"),
        ({**good, "product_code": "GOLD-CARD"}, "risk.application.unknown_product"),
        ('{"application_id": ', "cli.unreadable_file"),
        ("[1, 2]", "risk.application.invalid"),
        (without_consent, "consent.missing"),
    ):
        path = write(tmp_path, "bad.json", data)
        result = run(platform, "decide", "--application", path)
        assert result.exit_code == 2, (code, result.output)
        assert f"error [{code}]" in result.output, result.output
        assert rid not in result.output
    missing = run(platform, "decide", "--application", str(tmp_path / "none.json"))
    assert missing.exit_code == 2 and "error [cli.unreadable_file]" in missing.output
    path = write(tmp_path, "good.json", good)
    xml = run(platform, "decide", "--application", path, "--format", "xml")
    assert xml.exit_code == 2 and "error [cli.invalid_format]" in xml.output
    after = table_counts(platform)
    for table in DECISION_TABLES:
        assert after[table] == before[table], table


def _consumer_up_to_the_cap(platform: Platform, tmp_path: Path) -> list[dict[str, Any]]:
    """Four 90,000 consumer applications of one person: the per-borrower cap of 200,000
    (personal internet consumer credit) leaves 20,000 for the third and nothing for the fourth."""
    rid = person(900, day=3)  # born 1985-06-03: a grade-C consumer in the sandbox
    for purpose in ("credit_report", "identity_verification", "bank_flows", "social_security"):
        args = ("--resident-id", rid, "--purpose", purpose, "--text-version", "v2026.1")
        result = run(platform, "consent", "grant", *args)
        assert result.exit_code == 0, result.output
    consumer = {
        "product_code": "CONSUMER",
        "borrower_type": "consumer",
        "enterprise_name": None,
        "declared_annual_revenue": None,
        "declared_monthly_income": "60000",
        "purpose": "consumption",
        "requested_amount": "90000",
    }
    decisions = []
    for i in range(4):
        data = application(f"CONS-{i}", rid, None, **consumer)
        decisions.append(decide_json(platform, write(tmp_path, f"c{i}.json", data)))
    return decisions


def test_the_consumer_credit_cap_counts_what_was_granted(
    platform: Platform, today: None, tmp_path: Path
) -> None:
    decisions = _consumer_up_to_the_cap(platform, tmp_path)
    assert [d["outcome"] for d in decisions] == ["approve", "approve", "approve", "decline"]
    assert [d["limit"] for d in decisions] == ["90000.00", "90000.00", "20000.00", "0.00"]
    last = decisions[-1]["explanation"]["limit"]
    assert last["binding_constraint"] == "consumer_credit_cap"
    room = next(w for w in last["workings"] if w["step"] == "consumer_credit_cap_room")
    assert room["note"] == "200000.00 - 200000.00"
    assert [r["code"] for r in decisions[-1]["reasons"]] == ["ROUTE_LIMIT_ZERO"]
    for d in decisions:  # no enterprise: its sources do not apply
        for sid in ("business_registry", "tax", "platform_receipts"):
            assert d["explanation"]["sources"][sid]["status"] == "not_applicable"


def test_simulating_the_champion_reproduces_consumer_decisions(
    platform: Platform, today: None, tmp_path: Path
) -> None:
    _consumer_up_to_the_cap(platform, tmp_path)
    result = run(
        platform, "rules", "simulate", "--rule-set", str(DEFAULT_RULE_SET), "--format", "json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["champion"]["counts"] == {"approve": 3, "review": 0, "decline": 1}
    assert (report["swap_in"], report["swap_out"], report["changed"]) == (0, 0, []), report


def test_limit_recheck_proposes_and_respects_revoked_consents(
    platform: Platform, today: None, tmp_path: Path
) -> None:
    """R-9.3: the periodic re-check decides afresh and proposes; nothing changes. A customer who
    revoked the credit-report consent is not re-checked (no collection without consent)."""
    kept = person(900, day=21)
    revoking = person(900, day=22)
    grant(platform, kept)
    revoked_ids = grant(platform, revoking)
    for ref, rid, serial in (("RC-1", kept, 81), ("RC-2", revoking, 82)):
        decision = decide_json(
            platform,
            write(tmp_path, f"{ref}.json", application(ref, rid, sandbox_uscc(serial=serial))),
        )
        assert decision["outcome"] == "approve"
    before = table_counts(platform)
    assert run(platform, "consent", "revoke", revoked_ids[0]).exit_code == 0  # credit_report
    result = run(platform, "limits", "recheck", "--format", "json")
    assert result.exit_code == 0, result.output
    proposals = {p["application_ref"]: p for p in json.loads(result.stdout)}
    assert proposals["RC-1"]["action"] == "keep" and proposals["RC-1"]["fresh_outcome"] == "approve"
    assert proposals["RC-1"]["reason_code"] == "RECHECK_KEEP"
    assert proposals["RC-2"]["reason_code"] == "RECHECK_NO_CONSENT"
    assert proposals["RC-2"]["fresh_outcome"] is None
    after = table_counts(platform)
    # nothing about the decisions changes; the run and the revocation are audited
    assert after["credit_decisions"] == before["credit_decisions"]
    assert after["credit_applications"] == before["credit_applications"]
    text = run(platform, "limits", "recheck")
    assert text.exit_code == 0 and "2 approved limits re-checked" in text.stdout
