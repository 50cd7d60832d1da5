"""Ring detection (团伙识别) parameters and results: what batch detection is asked and what it
returns (R-9.6 "finds rings and hidden relations").

The algorithm runs in ``puhui.adapters.fraud.ring_detection`` (python-igraph); these are its
pure inputs and outputs. Each parameter's reason is in docs/anti-fraud.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from puhui.domain.errors import ValidationError
from puhui.domain.fraud.graph import ATTRIBUTE_KINDS, DEFAULT_HUB_THRESHOLD, NodeKind

__all__ = [
    "DEFAULT_LINK_WEIGHTS",
    "EvidenceAttribute",
    "EvidenceLink",
    "RingParameters",
    "SuspectGroup",
]

DEFAULT_LINK_WEIGHTS: Final[Mapping[NodeKind, int]] = MappingProxyType(
    {
        NodeKind.DEVICE: 2,
        NodeKind.PHONE: 2,
        NodeKind.BANK_CARD: 2,
        NodeKind.ADDRESS: 1,
        NodeKind.EMERGENCY_CONTACT: 1,
        NodeKind.ENTERPRISE: 1,
        NodeKind.IP: 0,
        NodeKind.EMPLOYER: 0,
    }
)
"""How much one shared identifier of each kind weighs in an applicant-applicant link.

Identity identifiers (device, phone, bank card) are shared legitimately only inside a family, so
one of them makes a strong link on its own; an address, a contact or an enterprise needs a second
shared identifier. IP and employer weigh nothing: strangers share carrier-grade NAT addresses and
employers, and links through them alone would join most of the population into one component.
They still count as corroboration in the evidence.
"""


def _parameter(name: str, reason: str) -> ValidationError:
    return ValidationError(
        f"The ring-detection parameter '{name}' is not valid ({reason}).",
        code="fraud.invalid_parameter",
        details={"field": name, "reason": reason},
    )


def _at_least(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _parameter(name, "not_an_integer")
    if value < minimum:
        raise _parameter(name, "too_small")


@dataclass(frozen=True, slots=True)
class RingParameters:
    """The knobs of batch ring detection, checked on construction (defaults: docs/anti-fraud.md)."""

    hub_threshold: int = DEFAULT_HUB_THRESHOLD
    link_weights: Mapping[NodeKind, int] = field(
        default_factory=lambda: DEFAULT_LINK_WEIGHTS, hash=False
    )
    strong_link_weight: int = 2
    core_k: int = 2
    min_core_size: int = 3
    attach_links: int = 2
    max_cluster_size: int = 100
    louvain_resolution: float = 1.0
    min_group_size: int = 5
    min_linked_households: int = 3
    seed: int = 20261123

    def __post_init__(self) -> None:
        _at_least("hub_threshold", self.hub_threshold, 2)
        _at_least("strong_link_weight", self.strong_link_weight, 1)
        _at_least("core_k", self.core_k, 1)
        _at_least("min_core_size", self.min_core_size, 2)
        _at_least("attach_links", self.attach_links, 1)
        _at_least("min_group_size", self.min_group_size, 2)
        _at_least("max_cluster_size", self.max_cluster_size, self.min_group_size)
        _at_least("min_linked_households", self.min_linked_households, 0)
        _at_least("seed", self.seed, 0)
        if not isinstance(self.link_weights, Mapping) or set(self.link_weights) != set(
            ATTRIBUTE_KINDS
        ):
            raise _parameter("link_weights", "one_weight_per_attribute_kind")
        for kind, weight in self.link_weights.items():
            _at_least(f"link_weights.{kind.value}", weight, 0)
        if not any(self.link_weights.values()):
            raise _parameter("link_weights", "all_zero")
        resolution = self.louvain_resolution
        if isinstance(resolution, bool) or not isinstance(resolution, int | float):
            raise _parameter("louvain_resolution", "not_a_number")
        if not resolution > 0:
            raise _parameter("louvain_resolution", "not_positive")
        object.__setattr__(self, "link_weights", MappingProxyType(dict(self.link_weights)))

    @property
    def identity_kinds(self) -> frozenset[NodeKind]:
        """Kinds whose one shared identifier makes a strong link (weight >= strong weight)."""
        return frozenset(k for k, w in self.link_weights.items() if w >= self.strong_link_weight)


@dataclass(frozen=True, slots=True)
class EvidenceAttribute:
    """One identifier that two or more members of a suspect group share."""

    kind: NodeKind
    key: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EvidenceLink:
    """Two members of a suspect group and the kinds of identifier they share."""

    first: str
    second: str
    kinds: tuple[NodeKind, ...]
    corroborated: bool  # an identity identifier plus another one, across two addresses


@dataclass(frozen=True, slots=True)
class SuspectGroup:
    """A group that batch detection flags as a possible ring, with its evidence subgraph.

    ``households`` counts the co-residence units of the group (members sharing an address are
    one unit); ``linked_households`` those drawn in by a corroborated link; ``score`` is
    ``linked_households / households``.
    """

    members: tuple[str, ...]
    score: float
    households: int
    linked_households: int
    evidence: tuple[EvidenceAttribute, ...]
    links: tuple[EvidenceLink, ...]

    @property
    def size(self) -> int:
        return len(self.members)
