"""Fraud assessment, device data, lists, cases and back-testing in the domain (R-9.6)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from puhui.domain.errors import Conflict, ValidationError
from puhui.domain.fraud.assessment import (
    FRAUD_VARIABLES,
    Disposal,
    DisposalPolicy,
    FraudLevel,
    StepUp,
    assess,
)
from puhui.domain.fraud.backtest import Assessed, backtest
from puhui.domain.fraud.cases import CaseStatus, move, opened
from puhui.domain.fraud.device import DeviceInfo
from puhui.domain.fraud.lists import (
    ListEntry,
    ListSource,
    ListType,
    SubjectKind,
    active_hits,
    normalize,
    parse_rows,
)
from puhui.domain.risk.rule_set import load_rule_set

CONFIG = Path(__file__).resolve().parents[3] / "src" / "puhui" / "config"
RULES = load_rule_set(CONFIG / "rules" / "fraud-baseline.json")
POLICY = DisposalPolicy.from_mapping(json.loads((CONFIG / "fraud-policy.json").read_text()))
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
DEVICE = {
    "device_id": "a1b2c3d4-e5f6-7788",
    "platform": "android",
    "os_version": "14",
    "model": "Mate 60",
    "ip": "203.0.113.9",
}

# -- the rule set: every rule fires on its own signal and not without it -------------------------

TRIGGERS = {  # rule id -> (variables that fire it, the same just below the threshold)
    "AF-LIST-001": ({"black_list_hits": 1}, {"black_list_hits": 0}),
    "AF-ID-001": ({"id_name_mismatch": True}, {"id_name_mismatch": False}),
    "AF-GRAPH-001": ({"graph_confirmed_fraud_2hop": 1}, {"graph_confirmed_fraud_2hop": 0}),
    "AF-VEL-001": ({"apps_per_device_24h": 5}, {"apps_per_device_24h": 2}),
    "AF-LIST-002": ({"grey_list_hits": 1}, {"grey_list_hits": 0}),
    "AF-ID-002": ({"phone_owner_mismatch": True}, {"phone_owner_mismatch": False}),
    "AF-DEV-001": ({"device_emulator": True}, {"device_emulator": False}),
    "AF-VEL-002": ({"apps_per_id_24h": 3}, {"apps_per_id_24h": 2}),
    "AF-VEL-003": ({"apps_per_device_24h": 3}, {"apps_per_device_24h": 2}),
    "AF-VEL-004": ({"apps_per_phone_1h": 3}, {"apps_per_phone_1h": 2}),
    "AF-VEL-005": ({"apps_per_ip_1h": 10}, {"apps_per_ip_1h": 9}),
    "AF-VEL-006": ({"apps_per_card_30d": 5}, {"apps_per_card_30d": 4}),
    "AF-VEL-007": ({"apps_per_device_30d": 8}, {"apps_per_device_30d": 7}),
    "AF-GRAPH-002": ({"graph_declined_2hop": 5}, {"graph_declined_2hop": 4}),
    "AF-GRAPH-003": ({"graph_shared_device_applicants": 3}, {"graph_shared_device_applicants": 2}),
    "AF-GRAPH-004": ({"graph_overdue_2hop": 3}, {"graph_overdue_2hop": 2}),
    "AF-ID-003": ({"phone_in_service_months": 5}, {"phone_in_service_months": 6}),
    "AF-DEV-002": ({"device_rooted": True}, {"device_rooted": False}),
    "AF-VEL-008": ({"apps_per_address_30d": 10}, {"apps_per_address_30d": 9}),
    "AF-VEL-009": ({"apps_per_ip_24h": 20}, {"apps_per_ip_24h": 19}),
}


def test_every_fraud_rule_is_covered() -> None:
    assert set(TRIGGERS) == {r.rule_id for r in RULES.rules}
    assert {r.category for r in RULES.rules} == {"fraud"}


@pytest.mark.parametrize("rule_id", sorted(TRIGGERS))
def test_each_rule_fires_on_its_signal_and_not_below_it(rule_id: str) -> None:
    fires, quiet = TRIGGERS[rule_id]
    assert rule_id in {r.rule_id for r in assess(RULES, POLICY, fires).fired}
    assert rule_id not in {r.rule_id for r in assess(RULES, POLICY, quiet).fired}


@pytest.mark.parametrize(
    ("variables", "level", "disposal", "steps"),
    [
        ({}, FraudLevel.NONE, Disposal.PASS, ()),
        ({"phone_in_service_months": 2}, FraudLevel.LOW, Disposal.STEP_UP, (StepUp.OTP,)),
        (
            {"device_emulator": True, "device_rooted": True},
            FraudLevel.MEDIUM,
            Disposal.STEP_UP,
            (StepUp.OTP, StepUp.LIVENESS, StepUp.MANUAL_REVIEW),
        ),
        ({"black_list_hits": 1, "device_rooted": True}, FraudLevel.HIGH, Disposal.BLOCK, ()),
    ],
)
def test_each_level_has_its_disposal(
    variables: dict[str, object], level: FraudLevel, disposal: Disposal, steps: tuple[StepUp, ...]
) -> None:
    result = assess(RULES, POLICY, variables)
    assert (result.level, result.disposal, result.steps) == (level, disposal, steps)
    assert result.to_dict()["level"] == level.value


def test_a_white_list_caps_soft_signals_but_not_identity_or_black_lists() -> None:
    soft = {"white_listed": True, "apps_per_device_24h": 3}
    assert assess(RULES, POLICY, soft).level is FraudLevel.LOW
    assert assess(RULES, POLICY, {**soft, "phone_owner_mismatch": True}).level is FraudLevel.MEDIUM
    assert assess(RULES, POLICY, {**soft, "black_list_hits": 1}).level is FraudLevel.HIGH
    assert assess(RULES, POLICY, {**soft, "apps_per_device_24h": 6}).level is FraudLevel.LOW


def test_fraud_variables_are_typed_and_named() -> None:
    with pytest.raises(ValidationError) as unknown:
        assess(RULES, POLICY, {"shoe_size": 42})
    assert unknown.value.code == "fraud.variables.unknown"
    with pytest.raises(ValidationError) as wrong:
        assess(RULES, POLICY, {"apps_per_id_24h": Decimal(3)})
    assert wrong.value.details["variable"] == "apps_per_id_24h"
    assert set(FRAUD_VARIABLES) >= {name for v in TRIGGERS.values() for name in v[0]}


def test_a_policy_that_does_not_block_high_is_refused() -> None:
    levels = {
        "none": {"action": "pass"},
        "low": {"action": "step_up", "steps": ["otp"]},
        "medium": {"action": "step_up", "steps": ["otp"]},
        "high": {"action": "step_up", "steps": ["otp"]},
    }
    with pytest.raises(ValidationError, match="must block"):
        DisposalPolicy.from_mapping({"levels": levels})
    with pytest.raises(ValidationError, match="every level"):
        DisposalPolicy.from_mapping({"levels": {"high": {"action": "block"}}})


# -- device data ----------------------------------------------------------------------------------


def test_device_data_is_read_and_checked_field_by_field() -> None:
    device = DeviceInfo.from_mapping({**DEVICE, "emulator": True})
    assert device.emulator and not device.rooted and device.network == "203.0.113.0/24"
    v6 = DeviceInfo.from_mapping({**DEVICE, "ip": "2001:db8::1"})
    assert v6.network == "2001:db8::/64"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"device_id": "short"}, "device_id"),
        ({"ip": "300.1.1.1"}, "ip"),
        ({"platform": "symbian"}, "platform"),
        ({"emulator": "yes"}, "emulator"),
        ({"model": None}, "model"),
        ({"user_agent": "a\nb"}, "user_agent"),
        ({"battery": 80}, "battery"),
    ],
)
def test_malformed_device_data_is_refused_by_name(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        DeviceInfo.from_mapping({**DEVICE, **change})
    assert error.value.code == "fraud.device.invalid" and error.value.details["field"] == field


def test_device_data_must_be_an_object() -> None:
    with pytest.raises(ValidationError):
        DeviceInfo.from_mapping(["not", "an", "object"])


# -- lists ----------------------------------------------------------------------------------------


def _entry(expires: datetime | None = None, removed: datetime | None = None) -> ListEntry:
    return ListEntry(
        id=1,
        list_type=ListType.BLACK,
        kind=SubjectKind.MOBILE,
        subject_key="ab" * 32,
        source=ListSource.MANUAL,
        reason="冒用他人身份",
        evidence="case:7",
        added_by="staff:li",
        added_at=NOW,
        expires_at=expires,
        removed_at=removed,
    )


def test_an_entry_stops_matching_when_it_expires_or_is_removed() -> None:
    day = timedelta(days=1)
    assert active_hits([_entry()], NOW + 1000 * day)
    expiring = _entry(expires=NOW + day)
    assert active_hits([expiring], NOW + day / 2) == [expiring]
    assert active_hits([expiring], NOW + day) == []
    assert active_hits([_entry(removed=NOW + day)], NOW + 2 * day) == []
    with pytest.raises(ValidationError):
        _entry(expires=NOW)


def test_values_are_normalized_before_hashing_and_bad_ones_refused() -> None:
    assert normalize(SubjectKind.MOBILE, "138 1234 5678") == "13812345678"
    assert normalize(SubjectKind.IP, " 203.0.113.9 ") == "203.0.113.9"
    assert normalize(SubjectKind.ADDRESS, "北京市 朝阳区，建国路８８号") == normalize(
        SubjectKind.ADDRESS, "北京市朝阳区建国路88号"
    )
    with pytest.raises(ValidationError) as error:
        normalize(SubjectKind.RESIDENT_ID, "110105198506150000")
    assert error.value.code == "fraud.list.invalid_value"


def test_an_import_keeps_valid_rows_and_reports_each_bad_one() -> None:
    rows = [
        {"list_type": "black", "kind": "mobile", "value": "13812345678", "reason": "团伙"},
        {"list_type": "purple", "kind": "mobile", "value": "13812345679", "reason": "x"},
        {"list_type": "grey", "kind": "ip", "value": "10.0.0.300", "reason": "代理"},
        {"list_type": "grey", "kind": "device", "value": "dev-0001-aaaa", "reason": ""},
        {
            "list_type": "white",
            "kind": "mobile",
            "value": "13912345678",
            "reason": "员工",
            "expires_on": "2026-01-01",
        },
        {"list_type": "black", "kind": "mobile", "value": "138-1234-5678", "reason": "again"},
        {
            "list_type": "grey",
            "kind": "ip",
            "value": "203.0.113.7",
            "reason": "代理",
            "expires_on": "2027-03-01",
            "colour": "red",
        },
        {
            "list_type": "grey",
            "kind": "ip",
            "value": "203.0.113.7",
            "reason": "代理",
            "expires_on": "2027-03-01",
        },
    ]
    valid, errors = parse_rows(rows, TODAY)
    assert [r.row for r in valid] == [1, 8]
    assert valid[1].expires_at is not None and valid[1].expires_at.date() == date(2027, 3, 1)
    assert [(e.row, e.field, e.code) for e in errors] == [
        (2, "list_type", "fraud.list.invalid_field"),
        (3, "value", "fraud.list.invalid_value"),
        (4, "reason", "fraud.list.missing_field"),
        (5, "expires_on", "fraud.list.invalid_field"),
        (6, "value", "fraud.list.duplicate_row"),
        (7, "colour", "fraud.list.invalid_field"),
    ]


# -- cases and back-testing -----------------------------------------------------------------------


def test_a_case_moves_open_investigating_confirmed_and_then_stays_closed() -> None:
    case = opened(7, "cd" * 32, "设备与三名被拒申请人共用", by="staff:wang", at=NOW)
    case = move(case, CaseStatus.INVESTIGATING, by="staff:wang", at=NOW, note="调取通话记录")
    case = move(case, CaseStatus.CONFIRMED, by="staff:wang", at=NOW, note="本人承认冒名")
    assert case.closed and [h.to_status for h in case.history] == [
        CaseStatus.OPEN,
        CaseStatus.INVESTIGATING,
        CaseStatus.CONFIRMED,
    ]
    with pytest.raises(Conflict):
        move(case, CaseStatus.DISMISSED, by="staff:wang", at=NOW, note="x")
    with pytest.raises(ValidationError):
        opened(7, "cd" * 32, " ", by="staff:wang", at=NOW)


def test_backtest_counts_precision_recall_and_lift() -> None:
    rows = [
        Assessed(1, frozenset({"AF-VEL-003"}), {"graph_declined_2hop": 2}, fraud=True),
        Assessed(2, frozenset({"AF-VEL-003"}), {}, fraud=False),
        Assessed(3, frozenset(), {"graph_declined_2hop": 0}, fraud=True),
        Assessed(4, frozenset(), {}, fraud=False),
    ]
    population, positives, results = backtest(rows, ["AF-VEL-003", "AF-LIST-001"])
    by_name = {r.signal: r for r in results}
    assert (population, positives) == (4, 2)
    vel = by_name["AF-VEL-003"]
    assert (vel.flagged, vel.true_positives) == (2, 1)
    assert (vel.precision, vel.recall, vel.lift) == (Decimal("0.5"), Decimal("0.5"), Decimal("1"))
    assert by_name["AF-LIST-001"].precision is None and by_name["AF-LIST-001"].recall == 0
    graph = by_name["graph_declined_2hop"]
    assert (graph.flagged, graph.precision, graph.lift) == (1, Decimal(1), Decimal(2))
