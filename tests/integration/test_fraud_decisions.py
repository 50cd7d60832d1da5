"""Anti-fraud in the decision path, through the API on both databases (R-9.6, R-M6.4.5): each
fraud level leads to its disposal — high blocks in real time, medium steps up and routes to
manual review, low steps up, none passes; velocity counts earlier applications; a confirmed
case black-lists the fraudster and reaches the neighbours through the relationship graph; the
back-test reports every rule; malformed device data is refused and nothing is saved."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from puhui.adapters.providers.datasources import sandbox_uscc
from puhui.bootstrap import Platform
from puhui.domain.identity import SYSTEM
from puhui.services.platform import set_business_date
from tests.integration.conftest import login, make_user, table_counts
from tests.integration.test_decisions import TODAY, application, decide, grant, person

DEVICE = {
    "device_id": "dev-7f3a-0001",
    "platform": "android",
    "os_version": "14",
    "model": "Mate 60",
    "ip": "203.0.113.9",
}


@pytest.fixture
def officer(platform: Platform, client: TestClient) -> dict[str, str]:
    make_user(platform, "li.officer", "loan_officer")
    set_business_date(platform.ctx, SYSTEM, TODAY, allow_backwards=True)
    return login(client, "li.officer")


@pytest.fixture
def analyst(platform: Platform, client: TestClient) -> dict[str, str]:
    make_user(platform, "qian.analyst", "risk_analyst")
    return login(client, "qian.analyst")


def apply(
    client: TestClient,
    officer: dict[str, str],
    app_id: str,
    code: int,
    *,
    day: int = 15,
    device: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    rid = person(code, day=day)
    grant(client, officer, rid)
    body = application(app_id, rid, sandbox_uscc("Y00", serial=1000 + code * 31 + day), **fields)
    if device is not None:
        body["device"] = device
    return decide(client, officer, body)


def fraud_of(decision: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = decision["explanation"]["fraud"]
    return found


def fired(decision: dict[str, Any]) -> set[str]:
    return {r["rule_id"] for r in fraud_of(decision)["rules"]}


def admission(decision: dict[str, Any]) -> set[str]:
    return {r["rule_id"] for r in decision["explanation"]["rules"] if r["fired"]}


def test_each_fraud_level_has_its_disposal(
    platform: Platform, client: TestClient, officer: dict[str, str], analyst: dict[str, str]
) -> None:
    clean = apply(client, officer, "APP-FR-NONE", 900, device=DEVICE)
    assert (fraud_of(clean)["level"], fraud_of(clean)["disposal"]) == ("none", "pass")
    assert fraud_of(clean)["steps"] == [] and clean["status"] == "approved"
    assert fraud_of(clean)["variables"]["apps_per_device_24h"] == 0
    assert fraud_of(clean)["rule_set"].startswith("fraud-baseline@1.0.0#")

    rooted = {**DEVICE, "device_id": "dev-7f3a-0002", "rooted": True}
    low = apply(client, officer, "APP-FR-LOW", 900, day=16, device=rooted)
    assert fraud_of(low)["level"] == "low" and fraud_of(low)["steps"] == ["otp"]
    assert "AF-DEV-002" in fired(low) and "FRD-004" in admission(low)
    assert low["status"] == "approved"

    emulator = {**DEVICE, "device_id": "dev-7f3a-0003", "emulator": True}
    medium = apply(client, officer, "APP-FR-MED", 900, day=17, device=emulator)
    assert fraud_of(medium)["level"] == "medium"
    assert fraud_of(medium)["steps"] == ["otp", "liveness", "manual_review"]
    assert "FRD-003" in admission(medium) and medium["status"] == "in_review"

    r = client.post(
        "/api/v1/fraud/list-entries",
        headers=analyst,
        json={"list_type": "black", "kind": "device", "value": "dev-7f3a-0004",
              "reason": "团伙共用设备", "evidence": "case:2026-0042"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    high = apply(client, officer, "APP-FR-HIGH", 900, day=18, device={**DEVICE,
                 "device_id": "dev-7f3a-0004"})  # fmt: skip
    assert (fraud_of(high)["level"], fraud_of(high)["disposal"]) == ("high", "block")
    assert "AF-LIST-001" in fired(high) and "FRD-002" in admission(high)
    assert high["status"] == "declined" and high["outcome"] == "decline"


def test_velocity_counts_earlier_applications_from_the_same_device(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    shared = {**DEVICE, "device_id": "dev-shared-0099", "ip": "198.51.100.23"}
    levels = []
    for day in (20, 21, 22, 23):  # four people, one handset, within minutes
        d = apply(client, officer, f"APP-FR-VEL-{day}", 900, day=day, device=shared)
        levels.append((fraud_of(d)["variables"]["apps_per_device_24h"], fraud_of(d)["level"]))
    assert levels == [(0, "none"), (1, "none"), (2, "none"), (3, "medium")]
    assert fraud_of(d)["variables"]["graph_shared_device_applicants"] == 3
    assert {"AF-VEL-003", "AF-GRAPH-003"} <= fired(d) and d["status"] == "in_review"


def test_a_confirmed_case_blacklists_and_reaches_the_neighbours(
    platform: Platform, client: TestClient, officer: dict[str, str], analyst: dict[str, str]
) -> None:
    ring_device = {**DEVICE, "device_id": "dev-ring-0001", "ip": "192.0.2.55"}
    first = apply(client, officer, "APP-FR-CASE-1", 900, day=24, device=ring_device)
    r = client.post(
        "/api/v1/fraud/cases",
        headers=analyst,
        json={"application_id": first["application_id"], "reason": "冒名申请，本人报案"},
    )
    assert r.status_code == 201, r.text
    case = r.json()
    for status, note in (("investigating", "调取影像资料"), ("confirmed", "确认冒名")):
        moved = client.post(
            f"/api/v1/fraud/cases/{case['id']}/status",
            headers=analyst,
            json={"status": status, "note": note},
        )
        assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "confirmed"
    closed = client.post(
        f"/api/v1/fraud/cases/{case['id']}/status",
        headers=analyst,
        json={"status": "dismissed", "note": "x"},
    )
    assert closed.status_code == 409 and closed.json()["code"] == "fraud.case.illegal_transition"

    again = apply(client, officer, "APP-FR-CASE-2", 900, day=24)  # the same person again
    assert "AF-LIST-001" in fired(again) and again["status"] == "declined"
    neighbour = apply(client, officer, "APP-FR-CASE-3", 900, day=25, device=ring_device)
    assert fraud_of(neighbour)["variables"]["graph_confirmed_fraud_2hop"] == 1
    assert "AF-GRAPH-001" in fired(neighbour) and neighbour["status"] == "declined"

    report = client.get("/api/v1/fraud/backtest", headers=analyst)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["population"] == 3 and body["confirmed_fraud"] == 2  # both of its applications
    signals = {s["signal"]: s for s in body["signals"]}
    assert signals["AF-LIST-001"]["flagged"] == 1
    assert signals["AF-LIST-001"]["precision"] == "1.0000"
    assert signals["graph_confirmed_fraud_2hop"]["flagged"] == 1
    assert signals["AF-VEL-001"]["precision"] is None  # never fired


def test_malformed_device_data_is_refused_and_nothing_is_saved(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    rid = person(900, day=26)
    grant(client, officer, rid)
    before = table_counts(platform)
    for bad, field in (
        ({**DEVICE, "ip": "999.1.1.1"}, "ip"),
        ({**DEVICE, "device_id": "x"}, "device_id"),
        ({k: v for k, v in DEVICE.items() if k != "platform"}, "platform"),
        ({**DEVICE, "imei": "861234567890123"}, "imei"),
        ("dev-7f3a-0001", "device"),
    ):
        body = application("APP-FR-BAD", rid, sandbox_uscc("Y00", serial=77), device=bad)
        r = client.post("/api/v1/decisions", headers=officer, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "fraud.device.invalid" and r.json()["details"]["field"] == field
    assert table_counts(platform) == before
