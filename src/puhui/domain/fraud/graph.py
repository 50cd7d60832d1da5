"""Relationship graph (关系图谱) of applicants and the identifiers their applications share (R-9.6,
R-M6.4.5).

The graph is bipartite. An *applicant* node links to the *attribute* nodes that its
applications named: enterprise, phone, device (设备指纹), normalized address, bank card, IP,
employer, emergency contact. Two applicants are related when they share an attribute node, that
is, when they are two hops apart.

Every node key is a blind-index style opaque string: lowercase hex of 32 to 128 characters, such
as the 64-character HMAC-SM3 of ``FieldCipher.blind_index``. Raw identifiers never reach the graph:
a phone number (11 digits), an ID number (18 characters) or a card number (16 to 19 digits) is
too short to pass, and an ID number's ``X`` is not hex. Keys of different kinds never meet:
each kind has its own key space.

:meth:`RelationshipGraph.add_application` updates the graph in place when an application
arrives (incremental, O(attributes of the application)). :meth:`RelationshipGraph.features`
reads the neighbourhood of one applicant (:class:`NeighbourhoodFeatures`). An attribute shared
by more than ``hub_threshold`` applicants (a carrier-grade NAT IP, a large employer, a
dormitory address, a device farm) is a *hub*: its degree is counted but its members are not
expanded, so one hub never makes a lookup O(n). The cost of one lookup is bounded by
(attributes of the applicant) x ``hub_threshold``.

:meth:`RelationshipGraph.snapshot` exports the whole graph as flat integer arrays for batch
ring detection (``puhui.adapters.fraud.ring_detection``).
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntFlag, StrEnum
from typing import Final

from puhui.domain.errors import NotFound, ValidationError

__all__ = [
    "ATTRIBUTE_KINDS",
    "DEFAULT_HUB_THRESHOLD",
    "ApplicantLabel",
    "ApplicationLinks",
    "GraphSnapshot",
    "NeighbourhoodFeatures",
    "NodeKind",
    "RelationshipGraph",
    "check_node_key",
]


class NodeKind(StrEnum):
    """The kinds of node in the relationship graph."""

    APPLICANT = "applicant"  # 申请人
    ENTERPRISE = "enterprise"  # 企业 (USCC)
    PHONE = "phone"  # 手机号码
    DEVICE = "device"  # 设备指纹
    ADDRESS = "address"  # 地址 (normalized before hashing)
    BANK_CARD = "bank_card"  # 银行卡
    IP = "ip"  # IP 地址
    EMPLOYER = "employer"  # 工作单位
    EMERGENCY_CONTACT = "emergency_contact"  # 紧急联系人


ATTRIBUTE_KINDS: Final[tuple[NodeKind, ...]] = tuple(
    kind for kind in NodeKind if kind is not NodeKind.APPLICANT
)
"""The kinds an application links its applicant to; their position is the kind's code."""

KIND_CODE: Final[Mapping[NodeKind, int]] = {kind: i for i, kind in enumerate(ATTRIBUTE_KINDS)}

DEFAULT_HUB_THRESHOLD: Final = 50
"""An attribute shared by more applicants than this is a hub and is not expanded.

A household has at most a handful of applicants and a planted fraud ring 5-30 members, so every
relation the features are meant to see stays below 50; above it sit carrier-grade NAT IPs,
large employers and dormitory addresses, which say little about one applicant. The bound keeps a
lookup under 9 x 50 neighbour visits whatever the population.
"""

_KEY: Final = re.compile(r"[0-9a-f]{32,128}")
_INVALID: Final = "fraud.invalid_link"
_FIELDS: Final = ("applicant", *(kind.value for kind in ATTRIBUTE_KINDS))
MAX_KEYS_PER_KIND: Final = 16


class ApplicantLabel(IntFlag):
    """Outcome labels set on an applicant node; the features count them around an applicant."""

    DECLINED = 1  # 拒绝
    OVERDUE = 2  # 逾期
    CONFIRMED_FRAUD = 4  # 确认欺诈


def _invalid(name: str, reason: str) -> ValidationError:
    return ValidationError(
        f"The relationship-graph field '{name}' is not valid ({reason}).",
        code=_INVALID,
        details={"field": name, "reason": reason},
    )


def check_node_key(name: str, value: object) -> str:
    """Return ``value`` if it is a blind-index key (lowercase hex, 32-128 characters).

    Raises ``fraud.invalid_link`` with ``details={"field": name, "reason": ...}``; the value
    itself is never repeated in the error (it could be a raw identifier sent by mistake).
    """
    if not isinstance(value, str):
        raise _invalid(name, "not_a_string")
    if not _KEY.fullmatch(value):
        raise _invalid(name, "not_blind_index")
    return value


def _keys(name: str, value: object) -> tuple[str, ...]:
    """One key or a list of keys of one kind; ``None`` or an empty list means none."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (check_node_key(name, value),)
    if not isinstance(value, list | tuple):
        raise _invalid(name, "not_a_key_or_list")
    if len(value) > MAX_KEYS_PER_KIND:
        raise _invalid(name, "too_many_keys")
    return tuple(check_node_key(name, item) for item in value)


@dataclass(frozen=True, slots=True)
class ApplicationLinks:
    """The applicant key and the attribute keys of one application, checked.

    ``attributes`` holds ``(kind, key)`` pairs, sorted and without duplicates. Build it with
    :meth:`create` (keyword per kind, one key or a list) or :meth:`from_mapping` (the JSON form).
    """

    applicant: str
    attributes: tuple[tuple[NodeKind, str], ...]

    def __post_init__(self) -> None:
        check_node_key("applicant", self.applicant)
        if not self.attributes:
            raise _invalid("attributes", "missing")
        seen: set[tuple[NodeKind, str]] = set()
        for pair in self.attributes:
            kind = pair[0] if isinstance(pair, tuple) and len(pair) == 2 else None
            if not isinstance(kind, NodeKind) or kind is NodeKind.APPLICANT:
                raise _invalid("attributes", "not_an_attribute_kind")
            check_node_key(kind.value, pair[1])
            seen.add(pair)
        object.__setattr__(self, "attributes", tuple(sorted(seen)))

    @classmethod
    def create(
        cls,
        applicant: str,
        *,
        enterprise: str | Sequence[str] | None = None,
        phone: str | Sequence[str] | None = None,
        device: str | Sequence[str] | None = None,
        address: str | Sequence[str] | None = None,
        bank_card: str | Sequence[str] | None = None,
        ip: str | Sequence[str] | None = None,
        employer: str | Sequence[str] | None = None,
        emergency_contact: str | Sequence[str] | None = None,
    ) -> ApplicationLinks:
        given = {
            NodeKind.ENTERPRISE: enterprise,
            NodeKind.PHONE: phone,
            NodeKind.DEVICE: device,
            NodeKind.ADDRESS: address,
            NodeKind.BANK_CARD: bank_card,
            NodeKind.IP: ip,
            NodeKind.EMPLOYER: employer,
            NodeKind.EMERGENCY_CONTACT: emergency_contact,
        }
        check_node_key("applicant", applicant)
        pairs = [(kind, key) for kind, value in given.items() for key in _keys(kind.value, value)]
        return cls(applicant, tuple(pairs))

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> ApplicationLinks:
        """Read ``{"applicant": key, "device": key | [keys], ...}``; unknown fields are refused."""
        if not isinstance(data, Mapping):
            raise _invalid("application", "not_an_object")
        for name in data:
            if name not in _FIELDS:
                raise _invalid(str(name), "unknown")
        if data.get("applicant") is None:
            raise _invalid("applicant", "missing")
        applicant = check_node_key("applicant", data["applicant"])
        pairs = [
            (kind, key) for kind in ATTRIBUTE_KINDS for key in _keys(kind.value, data.get(kind))
        ]
        return cls(applicant, tuple(pairs))


@dataclass(frozen=True, slots=True)
class NeighbourhoodFeatures:
    """What the graph says around one applicant (the inputs of graph rules and scores).

    * ``linked_applicants`` — distinct other applicants that share at least one non-hub
      attribute with this one (two hops in the bipartite graph);
    * ``declined`` / ``overdue`` / ``confirmed_fraud`` — how many of those carry each label;
    * ``shared`` — per attribute kind, how many other applicants use this applicant's attributes
      of that kind: the sum over those attributes of (degree - 1), hubs included (so a device
      used by 300 applicants reads 299 without being expanded);
    * ``strong_links`` — linked applicants that share two or more attribute kinds with this one,
      and ``max_shared_kinds``, the most kinds shared with any one of them;
    * ``hub_attributes`` — attributes of this applicant that were not expanded (hubs).
    """

    applicant: str
    linked_applicants: int
    declined: int
    overdue: int
    confirmed_fraud: int
    shared: Mapping[NodeKind, int] = field(hash=False)
    strong_links: int
    max_shared_kinds: int
    hub_attributes: int

    @property
    def shared_devices(self) -> int:
        return self.shared.get(NodeKind.DEVICE, 0)

    @property
    def shared_phones(self) -> int:
        return self.shared.get(NodeKind.PHONE, 0)

    @property
    def shared_bank_cards(self) -> int:
        return self.shared.get(NodeKind.BANK_CARD, 0)


@dataclass(frozen=True, slots=True)
class GraphSnapshot:
    """The whole graph as flat arrays (compressed rows), for batch work.

    Applicant ``i`` links to ``attribute_ids[offsets[i]:offsets[i + 1]]``; attribute ``j`` has
    kind ``ATTRIBUTE_KINDS[attribute_kinds[j]]`` and key ``attribute_keys[j]``;
    ``labels[i]`` holds the :class:`ApplicantLabel` bits of applicant ``i``.
    """

    applicant_keys: Sequence[str]
    attribute_keys: Sequence[str]
    attribute_kinds: bytes
    offsets: array[int]
    attribute_ids: array[int]
    labels: bytes


class RelationshipGraph:
    """An in-memory, incrementally updated applicant-attribute graph."""

    def __init__(self, *, hub_threshold: int = DEFAULT_HUB_THRESHOLD) -> None:
        if isinstance(hub_threshold, bool) or not isinstance(hub_threshold, int):
            raise ValidationError(
                "The hub threshold must be an integer.",
                code="fraud.invalid_parameter",
                details={"field": "hub_threshold", "reason": "not_an_integer"},
            )
        if hub_threshold < 2:
            raise ValidationError(
                "The hub threshold must be at least 2.",
                code="fraud.invalid_parameter",
                details={"field": "hub_threshold", "reason": "too_small"},
            )
        self.hub_threshold: Final = hub_threshold
        self._applicant_ids: dict[str, int] = {}
        self._applicant_keys: list[str] = []
        self._applicant_attributes: list[list[int]] = []
        self._labels = bytearray()
        self._attribute_ids: tuple[dict[str, int], ...] = tuple({} for _ in ATTRIBUTE_KINDS)
        self._attribute_keys: list[str] = []
        self._attribute_kinds = bytearray()
        self._attribute_members: list[list[int]] = []
        self._edges = 0

    @classmethod
    def from_applications(
        cls, applications: Iterable[ApplicationLinks], *, hub_threshold: int = DEFAULT_HUB_THRESHOLD
    ) -> RelationshipGraph:
        graph = cls(hub_threshold=hub_threshold)
        for links in applications:
            graph.add_application(links)
        return graph

    @property
    def applicant_count(self) -> int:
        return len(self._applicant_keys)

    @property
    def attribute_count(self) -> int:
        return len(self._attribute_keys)

    @property
    def edge_count(self) -> int:
        return self._edges

    def __contains__(self, applicant: object) -> bool:
        return applicant in self._applicant_ids

    def add_application(self, links: ApplicationLinks) -> int:
        """Add one application's links; return how many new edges it made (0 for a repeat)."""
        applicant = self._applicant_ids.get(links.applicant)
        if applicant is None:
            applicant = len(self._applicant_keys)
            self._applicant_ids[links.applicant] = applicant
            self._applicant_keys.append(links.applicant)
            self._applicant_attributes.append([])
            self._labels.append(0)
        mine = self._applicant_attributes[applicant]
        added = 0
        for kind, key in links.attributes:
            code = KIND_CODE[kind]
            index = self._attribute_ids[code]
            attribute = index.get(key)
            if attribute is None:
                attribute = len(self._attribute_keys)
                index[key] = attribute
                self._attribute_keys.append(key)
                self._attribute_kinds.append(code)
                self._attribute_members.append([])
            elif attribute in mine:
                continue
            mine.append(attribute)
            self._attribute_members[attribute].append(applicant)
            added += 1
        self._edges += added
        return added

    def _applicant(self, key: str) -> int:
        applicant = self._applicant_ids.get(key)
        if applicant is None:
            raise NotFound(
                "The applicant is not in the relationship graph.",
                code="fraud.unknown_applicant",
            )
        return applicant

    def set_label(self, applicant: str, label: ApplicantLabel, *, present: bool = True) -> None:
        """Set (or with ``present=False`` clear) a label on an applicant already in the graph."""
        index = self._applicant(applicant)
        if not isinstance(label, ApplicantLabel):
            raise _invalid("label", "unknown")
        if present:
            self._labels[index] |= label
        else:
            self._labels[index] &= ~label & 0xFF

    def labels(self, applicant: str) -> ApplicantLabel:
        return ApplicantLabel(self._labels[self._applicant(applicant)])

    def attributes_of(self, applicant: str) -> tuple[tuple[NodeKind, str], ...]:
        """The ``(kind, key)`` attributes linked to an applicant, sorted."""
        return tuple(
            sorted(
                (ATTRIBUTE_KINDS[self._attribute_kinds[a]], self._attribute_keys[a])
                for a in self._applicant_attributes[self._applicant(applicant)]
            )
        )

    def attribute_degree(self, kind: NodeKind, key: str) -> int:
        """How many applicants link to an attribute (0 if the graph has never seen it)."""
        attribute = self._attribute_ids[KIND_CODE[kind]].get(key)
        return 0 if attribute is None else len(self._attribute_members[attribute])

    def features(self, applicant: str) -> NeighbourhoodFeatures:
        """The neighbourhood features of an applicant; O(attributes x hub_threshold)."""
        me = self._applicant(applicant)
        hub = self.hub_threshold
        kinds = self._attribute_kinds
        shared = [0] * len(ATTRIBUTE_KINDS)
        linked: dict[int, int] = {}
        hubs = 0
        for attribute in self._applicant_attributes[me]:
            members = self._attribute_members[attribute]
            code = kinds[attribute]
            shared[code] += len(members) - 1
            if len(members) > hub:
                hubs += 1
                continue
            bit = 1 << code
            for other in members:
                if other != me:
                    linked[other] = linked.get(other, 0) | bit
        declined = overdue = fraud = strong = widest = 0
        labels = self._labels
        for other, mask in linked.items():
            flags = labels[other]
            if flags:
                declined += flags & 1
                overdue += (flags >> 1) & 1
                fraud += (flags >> 2) & 1
            width = mask.bit_count()
            if width >= 2:
                strong += 1
            if width > widest:
                widest = width
        return NeighbourhoodFeatures(
            applicant=applicant,
            linked_applicants=len(linked),
            declined=declined,
            overdue=overdue,
            confirmed_fraud=fraud,
            shared={ATTRIBUTE_KINDS[code]: n for code, n in enumerate(shared) if n},
            strong_links=strong,
            max_shared_kinds=widest,
            hub_attributes=hubs,
        )

    def add_and_read(self, links: ApplicationLinks) -> NeighbourhoodFeatures:
        """Add an application and read its applicant's features: the decision-path call."""
        self.add_application(links)
        return self.features(links.applicant)

    def snapshot(self) -> GraphSnapshot:
        """Copy the graph into flat arrays (see :class:`GraphSnapshot`)."""
        offsets = array("q", [0])
        attribute_ids = array("q")
        total = 0
        for mine in self._applicant_attributes:
            attribute_ids.extend(mine)
            total += len(mine)
            offsets.append(total)
        return GraphSnapshot(
            applicant_keys=tuple(self._applicant_keys),
            attribute_keys=tuple(self._attribute_keys),
            attribute_kinds=bytes(self._attribute_kinds),
            offsets=offsets,
            attribute_ids=attribute_ids,
            labels=bytes(self._labels),
        )
