"""Batch ring detection: a planted ring among legitimate noise is found with its evidence,
households are not flagged, the output is deterministic (R-9.6)."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest

from puhui.adapters.fraud.ring_detection import RingReport, detect_rings
from puhui.domain.errors import ValidationError
from puhui.domain.fraud.graph import ApplicationLinks, NodeKind, RelationshipGraph
from puhui.domain.fraud.rings import DEFAULT_LINK_WEIGHTS, RingParameters


def key(name: str) -> str:
    """A blind-index style key (64 hex) for a readable name."""
    return hashlib.sha256(name.encode()).hexdigest()


def links(who: str, **attributes: str | list[str] | None) -> ApplicationLinks:
    given: dict[str, Any] = {}
    for kind, value in attributes.items():
        if value is not None:
            given[kind] = [key(v) for v in value] if isinstance(value, list) else key(value)
    return ApplicationLinks.create(key(who), **given)


def legitimate_noise(rng: random.Random) -> list[ApplicationLinks]:
    """Households, families linked by a parent as contact, a dormitory, carrier-grade NAT IPs,
    a large employer, resold devices, and one large household that shares a lot."""
    apps: list[ApplicationLinks] = []
    for h in range(150):
        size = rng.choice([1, 1, 2, 2, 3, 4])
        home_ip = f"home-ip-{h}" if rng.random() < 0.6 else None
        for r in range(size):
            who = f"h{h}-{r}"
            apps.append(
                links(
                    who,
                    phone=f"phone-{who}",
                    device=f"dev-h{h}-0" if r == 1 and rng.random() < 0.2 else f"dev-{who}",
                    address=f"addr-{h}",
                    bank_card=f"card-h{h}-0" if r == 1 and rng.random() < 0.1 else f"card-{who}",
                    ip=home_ip if home_ip and rng.random() < 0.6 else f"cgnat-{rng.randrange(3)}",
                    employer="big-factory" if rng.random() < 0.6 else f"emp-{who}",
                    emergency_contact=[f"parent-{h // 2}", f"friend-{rng.randrange(200)}"],
                )
            )
    for d in range(12):  # a dormitory: one address, the Wi-Fi IP, one employer
        who = f"dorm-{d}"
        apps.append(
            links(
                who,
                phone=f"phone-{who}",
                device=f"dev-{who}",
                address="dorm-addr",
                ip="dorm-wifi",
                employer="dorm-factory",
                emergency_contact=f"contact-{who}",
            )
        )
    for s in range(6):  # resold devices: two strangers on one device
        for side in "ab":
            who = f"resale-{s}{side}"
            apps.append(links(who, phone=f"phone-{who}", device=f"resold-{s}", address=f"a-{who}"))
    for r in range(6):  # one large household: address, home IP, a family tablet, a shared card
        who = f"big-{r}"
        apps.append(
            links(
                who,
                phone=f"phone-{who}",
                device=["dev-big-tablet", f"dev-{who}"] if r < 3 else f"dev-{who}",
                address="addr-big",
                bank_card="card-big" if r < 2 else f"card-{who}",
                ip="home-ip-big",
                emergency_contact="parent-big",
            )
        )
    return apps


def a_ring(name: str, size: int = 8, *, host: str | None = "addr-0") -> list[ApplicationLinks]:
    """A ring: two intermediaries' devices and IPs, the organizer's cards and number; its first
    member lives in a legitimate household (``host``)."""
    apps = []
    for i in range(size):
        who = f"{name}-{i}"
        cell = i % 2
        apps.append(
            links(
                who,
                phone=f"phone-{who}",
                device=f"{name}-device-{cell}",
                address=host if i == 0 and host else f"addr-{who}",
                bank_card=f"{name}-card-{i % 3 != 0}",
                ip=f"{name}-ip-{cell}",
                emergency_contact=[f"{name}-boss", f"contact-{who}"],
            )
        )
    return apps


def detect(apps: list[ApplicationLinks], params: RingParameters | None = None) -> RingReport:
    return detect_rings(RelationshipGraph.from_applications(apps).snapshot(), params)


def members_of(name: str, size: int = 8) -> tuple[str, ...]:
    return tuple(sorted(key(f"{name}-{i}") for i in range(size)))


def test_a_planted_ring_is_found_with_its_evidence() -> None:
    report = detect(legitimate_noise(random.Random(7)) + a_ring("ring"))
    assert len(report.groups) == 1
    group = report.groups[0]
    assert group.members == members_of("ring")  # the host household is not drawn in
    assert group.households == 8 and group.linked_households == 8 and group.score == 1.0
    shared = {(e.kind, e.key): e.members for e in group.evidence}
    device = shared[(NodeKind.DEVICE, key("ring-device-0"))]
    assert device == tuple(sorted(key(f"ring-{i}") for i in (0, 2, 4, 6)))
    assert shared[(NodeKind.EMERGENCY_CONTACT, key("ring-boss"))] == members_of("ring")
    assert (NodeKind.BANK_CARD, key("ring-card-True")) in shared
    pair = next(
        link for link in group.links if {link.first, link.second} == {key("ring-0"), key("ring-2")}
    )
    assert pair.kinds == (NodeKind.DEVICE, NodeKind.IP, NodeKind.EMERGENCY_CONTACT)
    assert pair.corroborated


def test_legitimate_households_alone_are_not_flagged() -> None:
    report = detect(legitimate_noise(random.Random(7)))
    assert report.groups == ()
    assert report.links > 0 and report.applicants > 300 and report.core_members > 0


def test_a_ring_living_at_one_address_is_not_a_household() -> None:
    """Co-residents sharing a device and a card are family; the ring differs by sharing across
    addresses. A ring whose members all give one address has no corroborated link."""
    apps = [
        links(f"flat-{i}", device="flat-dev", bank_card="flat-card", address="flat", ip="flat-ip")
        for i in range(6)
    ]
    assert detect(apps).groups == ()


def test_detection_is_deterministic_and_independent_of_arrival_order() -> None:
    apps = legitimate_noise(random.Random(3)) + a_ring("ring") + a_ring("gang", 6, host=None)
    first = detect(apps)
    shuffled = list(apps)
    random.Random(5).shuffle(shuffled)
    again = detect(shuffled)
    assert [g.members for g in first.groups] == sorted(
        [members_of("ring"), members_of("gang", 6)], key=lambda m: (-len(m), m)
    )
    assert first.groups == again.groups


def test_a_large_cluster_is_split_by_louvain() -> None:
    apps = a_ring("one", 9, host=None) + a_ring("two", 9, host=None)
    # weak links between the rings: three members of one share addresses with the other
    apps += [links(f"one-{i}", address=f"addr-two-{i}") for i in range(3)]
    params = RingParameters(max_cluster_size=12)
    report = detect(apps, params)
    assert report.louvain_splits == 1
    assert sorted(g.members for g in report.groups) == sorted(
        [members_of("one", 9), members_of("two", 9)]
    )
    whole = detect(apps, RingParameters())
    assert whole.louvain_splits == 0 and [g.size for g in whole.groups] == [18]


def test_an_isolated_member_joins_through_two_weak_links() -> None:
    apps = a_ring("ring", 6, host=None)
    # the straggler used none of the ring's devices or cards, but lives with one member and
    # names the boss as contact: weak links to every member, and no strong one
    apps.append(links("ring-x", address="addr-ring-1", emergency_contact="ring-boss"))
    group = detect(apps).groups[0]
    assert key("ring-x") in group.members and group.size == 7


@pytest.mark.parametrize(
    ("kwargs", "field", "reason"),
    [
        ({"hub_threshold": 1}, "hub_threshold", "too_small"),
        ({"core_k": 0}, "core_k", "too_small"),
        ({"min_group_size": 1.5}, "min_group_size", "not_an_integer"),
        ({"max_cluster_size": 3}, "max_cluster_size", "too_small"),
        ({"louvain_resolution": 0}, "louvain_resolution", "not_positive"),
        ({"louvain_resolution": "1"}, "louvain_resolution", "not_a_number"),
        ({"link_weights": {NodeKind.DEVICE: 2}}, "link_weights", "one_weight_per_attribute_kind"),
        (
            {"link_weights": dict.fromkeys(DEFAULT_LINK_WEIGHTS, 0)},
            "link_weights",
            "all_zero",
        ),
        (
            {"link_weights": {**DEFAULT_LINK_WEIGHTS, NodeKind.IP: -1}},
            "link_weights.ip",
            "too_small",
        ),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RingParameters(**kwargs)
    assert caught.value.code == "fraud.invalid_parameter"
    assert caught.value.details == {"field": field, "reason": reason}


def test_identity_kinds_follow_the_weights() -> None:
    assert RingParameters().identity_kinds == {NodeKind.DEVICE, NodeKind.PHONE, NodeKind.BANK_CARD}


def test_an_empty_graph_has_no_groups() -> None:
    report = detect([links("solo", device="d")])
    assert report == RingReport(
        groups=(),
        applicants=1,
        links=0,
        strong_links=0,
        core_members=0,
        clusters=0,
        louvain_splits=0,
        candidates=0,
        seconds=report.seconds,
    )
