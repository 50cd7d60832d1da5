"""Anti-fraud lists through the API on both databases (R-9.6): add, look up, import with bad
rows (valid rows kept, bad rows reported, nothing half-applied), expiry, and removal only
through a second person (maker-checker); bad input changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from puhui.bootstrap import Platform
from puhui.domain.identity import SYSTEM
from puhui.services import fraud
from puhui.services.platform import set_business_date
from tests.integration.conftest import login, make_user, table_counts
from tests.integration.test_decisions import TODAY

PROBLEM = "application/problem+json"


@pytest.fixture
def analyst(platform: Platform, client: TestClient) -> dict[str, str]:
    make_user(platform, "qian.analyst", "risk_analyst")
    set_business_date(platform.ctx, SYSTEM, TODAY, allow_backwards=True)
    return login(client, "qian.analyst")


@pytest.fixture
def checker(platform: Platform, client: TestClient) -> dict[str, str]:
    make_user(platform, "wang.reviewer", "reviewer")
    return login(client, "wang.reviewer")


def add(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/fraud/list-entries", headers=headers, json=body)
    assert r.status_code == 201, r.text
    entry: dict[str, Any] = r.json()
    return entry


def lookup(client: TestClient, headers: dict[str, str], kind: str, value: str) -> list[Any]:
    r = client.post(
        "/api/v1/fraud/list-lookups", headers=headers, json={"kind": kind, "value": value}
    )
    assert r.status_code == 200, r.text
    found: list[Any] = r.json()
    return found


def test_entries_are_found_by_any_spelling_and_stored_masked(
    platform: Platform, client: TestClient, analyst: dict[str, str]
) -> None:
    entry = add(
        client, analyst, list_type="black", kind="mobile", value="138 1234 5678",
        reason="冒用他人身份申请", evidence="case:2026-0007",
    )  # fmt: skip
    assert entry["masked"] == "138****5678" and "13812345678" not in str(entry)
    found = lookup(client, analyst, "mobile", "13812345678")
    assert [(e["id"], e["active"]) for e in found] == [(entry["id"], True)]
    with platform.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT subject_key, masked FROM fraud_list_entries").all()
    assert len(stored[0][0]) == 64 and "5678" in stored[0][1]


def test_an_import_keeps_valid_rows_reports_bad_ones_and_a_refusal_changes_nothing(
    platform: Platform, client: TestClient, analyst: dict[str, str]
) -> None:
    rows = [
        {"list_type": "grey", "kind": "ip", "value": "203.0.113.7", "reason": "代理出口"},
        {"list_type": "grey", "kind": "ip", "value": "not-an-ip", "reason": "代理出口"},
        {"list_type": "black", "kind": "resident_id", "value": "110105198506150000",
         "reason": "x"},
        {"list_type": "white", "kind": "device", "value": "dev-0001-aaaa", "reason": "测试机",
         "expires_on": "2099-01-01"},
    ]  # fmt: skip
    r = client.post(
        "/api/v1/fraud/list-imports", headers=analyst, json={"source": "行业共享名单", "rows": rows}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["added"] == 2 and len(body["entry_ids"]) == 2
    assert [(e["row"], e["field"], e["code"]) for e in body["errors"]] == [
        (2, "value", "fraud.list.invalid_value"),
        (3, "value", "fraud.list.invalid_value"),
    ]
    before = table_counts(platform)
    for bad in (
        {"list_type": "black", "kind": "mobile", "value": "12345", "reason": "x"},
        {"list_type": "black", "kind": "planet", "value": "mars", "reason": "x"},
        {"list_type": "black", "kind": "mobile", "value": "13812345678", "reason": ""},
        {"list_type": "black", "kind": "mobile", "value": "13812345678", "reason": "x",
         "expires_on": "yesterday"},
    ):  # fmt: skip
        r = client.post("/api/v1/fraud/list-entries", headers=analyst, json=bad)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["code"].startswith("fraud.list.")
    r = client.post("/api/v1/fraud/list-imports", headers=analyst, json={"source": "x", "rows": 5})
    assert r.status_code == 422
    assert table_counts(platform) == before


def test_an_entry_expires_on_its_date(
    platform: Platform, client: TestClient, analyst: dict[str, str]
) -> None:
    in_a_week = (platform.ctx.clock() + timedelta(days=7)).date().isoformat()
    add(client, analyst, list_type="grey", kind="ip", value="198.51.100.4", reason="短期观察",
        expires_on=in_a_week)  # fmt: skip
    assert lookup(client, analyst, "ip", "198.51.100.4")[0]["active"] is True
    (entry,) = fraud.lookup(platform.ctx, SYSTEM, "ip", "198.51.100.4")
    now = platform.ctx.clock()
    assert entry.is_active(now + timedelta(days=5))  # expires at the start of its day (China)
    assert not entry.is_active(now + timedelta(days=8))  # expired: it no longer matches


def test_removal_needs_a_second_person(
    platform: Platform, client: TestClient, analyst: dict[str, str], checker: dict[str, str]
) -> None:
    entry = add(client, analyst, list_type="black", kind="device", value="dev-9999-zzzz",
                reason="团伙共用设备")  # fmt: skip
    r = client.post(
        f"/api/v1/fraud/list-entries/{entry['id']}/removal-requests",
        headers=analyst,
        json={"reason": "设备已回收并重置"},
    )
    assert r.status_code == 202, r.text
    pending = r.json()["pending_action_id"]
    assert lookup(client, analyst, "device", "dev-9999-zzzz")[0]["active"] is True
    own = client.post(f"/api/v1/approvals/{pending}/approve", headers=analyst, json={})
    assert (
        own.status_code in (403, 409)
        and lookup(client, analyst, "device", "dev-9999-zzzz")[0]["active"]
    )
    ok = client.post(f"/api/v1/approvals/{pending}/approve", headers=checker, json={})
    assert ok.status_code == 200, ok.text
    found = lookup(client, analyst, "device", "dev-9999-zzzz")[0]
    assert found["active"] is False and found["removed_at"] is not None
    again = client.post(
        f"/api/v1/fraud/list-entries/{entry['id']}/removal-requests",
        headers=analyst,
        json={"reason": "again"},
    )
    assert again.status_code == 409 and again.json()["code"] == "fraud.list.not_active"


def test_lists_need_the_fraud_permission(
    platform: Platform, client: TestClient, analyst: dict[str, str]
) -> None:
    make_user(platform, "li.officer", "loan_officer")
    officer = login(client, "li.officer")
    r = client.post(
        "/api/v1/fraud/list-lookups", headers=officer, json={"kind": "ip", "value": "1.1.1.1"}
    )
    assert r.status_code == 403


def test_cli_imports_a_csv_and_reports_bad_rows(platform: Platform, tmp_path: Any) -> None:
    from tests.integration.test_cli import run

    path = tmp_path / "shared-list.csv"
    path.write_text(
        "list_type,kind,value,reason,expires_on\n"
        "black,mobile,13812345678,团伙成员,\n"
        "black,mobile,1381234,号码不完整,\n"
        "grey,ip,203.0.113.7,代理出口,2099-01-01\n",
        encoding="utf-8",
    )
    result = run(platform, "fraud", "list-import", str(path), "--source", "行业共享名单")
    assert result.exit_code == 1, result.output
    assert "2 entries added, 1 rows refused" in result.output
    assert "row 2: value" in result.output
    found = run(platform, "fraud", "list-lookup", "mobile", "138-1234-5678")
    assert found.exit_code == 0 and '"active": true' in found.output


def test_suspect_ring_members_go_on_the_grey_list_once(
    platform: Platform, analyst: dict[str, str]
) -> None:
    import random

    from tests.unit.fraud.test_ring_detection import (
        a_ring,
        detect,
        legitimate_noise,
        members_of,
    )

    report = detect(legitimate_noise(random.Random(7)) + a_ring("ring-a", 8))
    assert len(report.groups) == 1 and set(report.groups[0].members) == set(members_of("ring-a"))
    before = table_counts(platform)["audit_log"]
    assert fraud.flag_suspects(platform.ctx, SYSTEM, report.groups) == 8
    assert fraud.flag_suspects(platform.ctx, SYSTEM, report.groups) == 0  # listed already
    assert table_counts(platform)["audit_log"] == before + 2
    with platform.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT list_type, kind, source, reason FROM fraud_list_entries"
        ).all()
    assert {(r[0], r[1], r[2]) for r in rows} == {("grey", "resident_id", "rule")}
    assert all("group 1 of 8" in r[3] for r in rows)
