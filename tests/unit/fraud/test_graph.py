"""Relationship graph: links checked, incremental update, neighbourhood features, hub capping
(R-9.6)."""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.domain.errors import NotFound, ValidationError
from puhui.domain.fraud.graph import (
    ATTRIBUTE_KINDS,
    ApplicantLabel,
    ApplicationLinks,
    NodeKind,
    RelationshipGraph,
)


def key(name: str) -> str:
    """A blind-index style key (64 hex) for a readable name."""
    return hashlib.sha256(name.encode()).hexdigest()


def an_application(applicant: str, **attributes: str | list[str]) -> ApplicationLinks:
    given: dict[str, Any] = {
        kind: [key(v) for v in value] if isinstance(value, list) else key(value)
        for kind, value in attributes.items()
    }
    return ApplicationLinks.create(key(applicant), **given)


def a_small_graph() -> RelationshipGraph:
    """Ann and Bob share a device; Bob and Cat an address (and the home IP); Dan shares Ann's
    phone and device; Eve is alone."""
    graph = RelationshipGraph()
    graph.add_application(an_application("ann", phone="p1", device="d1", ip="ip1"))
    graph.add_application(an_application("bob", phone="p2", device="d1", address="a1", ip="ip2"))
    graph.add_application(an_application("cat", phone="p3", address="a1", ip="ip2"))
    graph.add_application(an_application("dan", phone="p1", device="d1", ip="ip9"))
    graph.add_application(an_application("eve", phone="p5", device="d5"))
    return graph


class TestLinks:
    def test_keys_are_sorted_and_deduplicated(self) -> None:
        links = an_application("ann", device=["d2", "d1", "d2"], phone="p1")
        assert links.applicant == key("ann")
        assert links.attributes == tuple(
            sorted(
                [
                    (NodeKind.DEVICE, key("d1")),
                    (NodeKind.DEVICE, key("d2")),
                    (NodeKind.PHONE, key("p1")),
                ]
            )
        )

    def test_from_mapping_reads_the_json_form(self) -> None:
        links = ApplicationLinks.from_mapping(
            {"applicant": key("ann"), "device": key("d1"), "emergency_contact": [key("c1")]}
        )
        assert links == an_application("ann", device="d1", emergency_contact=["c1"])

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ("13812345678", "not_blind_index"),  # a raw mobile number
            ("11010519491231002X", "not_blind_index"),  # a raw resident ID number
            ("6222021234567890123", "not_blind_index"),  # a raw bank card number
            (key("d1").upper(), "not_blind_index"),
            (key("d1") + " ", "not_blind_index"),
            (12345, "not_a_key_or_list"),
        ],
    )
    def test_a_raw_or_malformed_identifier_is_refused(self, value: object, reason: str) -> None:
        with pytest.raises(ValidationError) as caught:
            ApplicationLinks.from_mapping({"applicant": key("ann"), "phone": value})
        error = caught.value
        assert error.code == "fraud.invalid_link"
        assert error.details == {"field": "phone", "reason": reason}
        assert str(value) not in error.message  # the value is never echoed

    @pytest.mark.parametrize(
        ("data", "field", "reason"),
        [
            ({"device": key("d1")}, "applicant", "missing"),
            ({"applicant": None, "device": key("d1")}, "applicant", "missing"),
            ({"applicant": "ann", "device": key("d1")}, "applicant", "not_blind_index"),
            ({"applicant": key("ann")}, "attributes", "missing"),
            ({"applicant": key("ann"), "device": []}, "attributes", "missing"),
            ({"applicant": key("ann"), "imei": key("x")}, "imei", "unknown"),
            ({"applicant": key("ann"), "device": {"k": 1}}, "device", "not_a_key_or_list"),
            ({"applicant": key("ann"), "device": [key("d1"), 7]}, "device", "not_a_string"),
            (
                {"applicant": key("ann"), "ip": [key(f"ip{i}") for i in range(17)]},
                "ip",
                "too_many_keys",
            ),
        ],
    )
    def test_missing_or_unknown_fields_are_refused(
        self, data: dict[str, object], field: str, reason: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            ApplicationLinks.from_mapping(data)
        assert caught.value.code == "fraud.invalid_link"
        assert caught.value.details == {"field": field, "reason": reason}

    def test_a_mapping_is_required(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ApplicationLinks.from_mapping(["not", "a", "mapping"])  # type: ignore[arg-type]
        assert caught.value.details == {"field": "application", "reason": "not_an_object"}

    def test_the_applicant_kind_is_not_an_attribute(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ApplicationLinks(key("ann"), ((NodeKind.APPLICANT, key("bob")),))
        assert caught.value.details == {"field": "attributes", "reason": "not_an_attribute_kind"}


class TestFeatures:
    def test_features_of_a_small_hand_built_graph(self) -> None:
        graph = a_small_graph()
        graph.set_label(key("dan"), ApplicantLabel.CONFIRMED_FRAUD)
        graph.set_label(key("dan"), ApplicantLabel.DECLINED)
        graph.set_label(key("bob"), ApplicantLabel.OVERDUE)

        ann = graph.features(key("ann"))
        assert ann.linked_applicants == 2  # bob (device), dan (phone + device)
        assert (ann.declined, ann.overdue, ann.confirmed_fraud) == (1, 1, 1)
        assert ann.shared_devices == 2 and ann.shared_phones == 1
        assert ann.shared == {NodeKind.PHONE: 1, NodeKind.DEVICE: 2}
        assert (ann.strong_links, ann.max_shared_kinds, ann.hub_attributes) == (1, 2, 0)

        bob = graph.features(key("bob"))
        assert bob.linked_applicants == 3  # ann, dan (device), cat (address + ip)
        assert bob.shared == {NodeKind.DEVICE: 2, NodeKind.ADDRESS: 1, NodeKind.IP: 1}
        assert bob.strong_links == 1 and bob.max_shared_kinds == 2

        eve = graph.features(key("eve"))
        assert (eve.linked_applicants, eve.strong_links, eve.max_shared_kinds) == (0, 0, 0)
        assert eve.shared == {}

    def test_labels_can_be_cleared(self) -> None:
        graph = a_small_graph()
        graph.set_label(key("dan"), ApplicantLabel.DECLINED)
        graph.set_label(key("dan"), ApplicantLabel.OVERDUE)
        graph.set_label(key("dan"), ApplicantLabel.DECLINED, present=False)
        assert graph.labels(key("dan")) == ApplicantLabel.OVERDUE
        assert graph.features(key("ann")).declined == 0

    def test_a_hub_is_counted_but_not_expanded(self) -> None:
        graph = RelationshipGraph(hub_threshold=3)
        for name in ("ann", "bob", "cat", "dan", "eve"):
            graph.add_application(an_application(name, employer="big-factory", device=f"d-{name}"))
        graph.add_application(an_application("fay", employer="big-factory", device="d-ann"))
        ann = graph.features(key("ann"))
        assert graph.attribute_degree(NodeKind.EMPLOYER, key("big-factory")) == 6
        assert ann.hub_attributes == 1
        assert ann.shared[NodeKind.EMPLOYER] == 5  # degree - 1, without visiting the members
        assert ann.linked_applicants == 1  # fay, through the device only

    def test_the_hub_threshold_bounds_a_lookup(self) -> None:
        graph = RelationshipGraph(hub_threshold=50)
        for i in range(5000):
            graph.add_application(an_application(f"a{i}", ip="cgnat", device=f"d{i}"))
        features = graph.features(key("a0"))
        assert features.linked_applicants == 0
        assert features.shared == {NodeKind.IP: 4999}

    def test_an_unknown_applicant_is_not_found(self) -> None:
        graph = a_small_graph()
        with pytest.raises(NotFound) as caught:
            graph.features(key("zoe"))
        assert caught.value.code == "fraud.unknown_applicant"
        with pytest.raises(NotFound):
            graph.set_label(key("zoe"), ApplicantLabel.DECLINED)

    @pytest.mark.parametrize(("value", "reason"), [(1, "too_small"), (True, "not_an_integer")])
    def test_a_bad_hub_threshold_is_refused(self, value: object, reason: str) -> None:
        with pytest.raises(ValidationError) as caught:
            RelationshipGraph(hub_threshold=value)  # type: ignore[arg-type]
        assert caught.value.code == "fraud.invalid_parameter"
        assert caught.value.details == {"field": "hub_threshold", "reason": reason}


class TestIncremental:
    def test_a_repeat_application_adds_nothing_and_a_new_attribute_is_appended(self) -> None:
        graph = a_small_graph()
        edges = graph.edge_count
        assert graph.add_application(an_application("ann", phone="p1", device="d1")) == 0
        assert graph.add_application(an_application("ann", device=["d1", "d7"])) == 1
        assert graph.edge_count == edges + 1
        assert (NodeKind.DEVICE, key("d7")) in graph.attributes_of(key("ann"))
        features = graph.add_and_read(an_application("gus", device="d7"))
        assert features.linked_applicants == 1

    def test_the_snapshot_holds_every_edge(self) -> None:
        graph = a_small_graph()
        snapshot = graph.snapshot()
        assert len(snapshot.applicant_keys) == graph.applicant_count == 5
        assert len(snapshot.attribute_ids) == snapshot.offsets[-1] == graph.edge_count
        ann = snapshot.attribute_ids[snapshot.offsets[0] : snapshot.offsets[1]]
        assert sorted(
            (ATTRIBUTE_KINDS[snapshot.attribute_kinds[a]], snapshot.attribute_keys[a]) for a in ann
        ) == list(graph.attributes_of(key("ann")))


def reference_features(
    applications: list[ApplicationLinks], applicant: str, hub: int
) -> tuple[int, dict[NodeKind, int], int, int]:
    """Features computed from scratch from the list of applications (the batch reference)."""
    holders: dict[tuple[NodeKind, str], set[str]] = defaultdict(set)
    for links in applications:
        for attribute in links.attributes:
            holders[attribute].add(links.applicant)
    mine = {a for links in applications if links.applicant == applicant for a in links.attributes}
    shared: dict[NodeKind, int] = defaultdict(int)
    kinds: dict[str, set[NodeKind]] = defaultdict(set)
    hubs = 0
    for attribute in mine:
        members = holders[attribute]
        if len(members) > 1:
            shared[attribute[0]] += len(members) - 1
        if len(members) > hub:
            hubs += 1
            continue
        for other in members - {applicant}:
            kinds[other].add(attribute[0])
    strong = sum(1 for k in kinds.values() if len(k) >= 2)
    return len(kinds), dict(shared), strong, hubs


names = st.sampled_from([f"x{i}" for i in range(6)])
applications = st.lists(
    st.builds(
        lambda who, device, address, phone: an_application(
            who, device=device, address=address, phone=phone
        ),
        st.sampled_from([f"person{i}" for i in range(12)]),
        st.lists(names, min_size=1, max_size=2),
        names,
        names,
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(applications, st.integers(min_value=2, max_value=6), st.randoms(use_true_random=False))
def test_incremental_equals_batch_built(
    apps: list[ApplicationLinks], hub: int, rnd: random.Random
) -> None:
    graph = RelationshipGraph(hub_threshold=hub)
    for links in apps:
        graph.add_application(links)
    shuffled = list(apps)
    rnd.shuffle(shuffled)
    other_order = RelationshipGraph.from_applications(shuffled, hub_threshold=hub)
    for applicant in {links.applicant for links in apps}:
        features = graph.features(applicant)
        assert features == other_order.features(applicant)
        linked, shared, strong, hubs = reference_features(apps, applicant, hub)
        assert features.linked_applicants == linked
        assert dict(features.shared) == shared
        assert features.strong_links == strong
        assert features.hub_attributes == hubs
