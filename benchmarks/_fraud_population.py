"""Deterministic synthetic applicant population for ``benchmarks/fraud_graph.py``.

Every applicant gets at most one identifier of each attribute kind, as an integer id per kind
(-1: none); ``keys`` turns ids into 64-hex blind-index style keys. The model, legitimate side:

* **households** of 1-6 applicants (55 / 33 / 9 / 2.5 / 0.4 / 0.1 %): one normalized address;
  60 % of households have home broadband and 60 % of their applicants apply from it (the same
  IP), the rest apply from a carrier-grade NAT IP; the second and later applicants of a
  household share the first one's phone (8 %), device (10 %), the spouse (second applicant) the
  bank card (5 %) and the enterprise when the first is a business owner (30 %);
* **dormitories**: 3 % of applicants live in dormitories of 10-150 residents: one address, the
  factory as employer (90 %), the dormitory Wi-Fi IP (60 %);
* **extended families** of 1-3 households: each applicant names the family's parent as
  emergency contact with probability 0.4 (else a contact of their own), so sibling households
  are linked through contacts;
* **carrier-grade NAT IPs**: N / 50 public addresses with Zipf-like popularity (weight
  1 / rank^0.8): the top ones are shared by thousands, the tail by a few strangers;
* **employers**: 80 % employed, N / 10 employers with popularity 1 / rank (one employer has
  tens of thousands of applicants); 12 % of first applicants own an enterprise;
* **device resale**: 3 % of devices are second-hand, previously used by a random stranger.

Planted rings (团伙), sizes uniform in 5-30: each ring controls pools of devices (one per 5
members), IPs, addresses and emergency contacts (one per 8), bank cards and phones (one per 10)
and a made-up employer. A member uses the ring's device with probability 0.8, its IP 0.7, an
address 0.4, a contact 0.6, a bank card 0.4, a phone 0.1, the made-up employer 0.3 (a real one
0.4), and otherwise identifiers of their own. A quarter of the members live in a legitimate
household (its address and, half the time, its home IP) and a fifth name a legitimate family's
parent as emergency contact: the rings touch legitimate households.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

CELL_SHARING = {"device": 0.85, "ip": 0.7, "emergency_contact": 0.6}
"""Identifiers of a ring's cell (one intermediary): chance that a member uses the cell's one."""
RING_SHARING = {"address": (8, 0.4), "bank_card": (8, 0.6), "phone": (10, 0.1)}
"""Ring-wide pools: (members per pooled identifier, chance that a member uses one)."""

KINDS = (
    "enterprise",
    "phone",
    "device",
    "address",
    "bank_card",
    "ip",
    "employer",
    "emergency_contact",
)
COLUMNS = (*KINDS, "second_contact")
"""One id column per attribute kind, plus the second emergency contact (of that kind)."""
KIND_OF = {**{kind: kind for kind in KINDS}, "second_contact": "emergency_contact"}


@dataclass(frozen=True)
class Population:
    columns: dict[str, np.ndarray]  # column -> int64 id per applicant (-1: none); KIND_OF
    ring: np.ndarray  # ring number per applicant, -1 for a legitimate applicant
    size: int  # applicants in the population (the first `size` rows)
    extra: int  # further legitimate applicants after them: the incremental sample

    def key(self, kind: str, ident: int) -> str:
        return key_of(kind, ident)


def key_of(kind: str, ident: int) -> str:
    """A 64-hex blind-index style key (BLAKE2b-256 of the kind and the id)."""
    return hashlib.blake2b(f"{kind}:{ident}".encode(), digest_size=32).hexdigest()


class _Ids:
    def __init__(self) -> None:
        self.next = dict.fromkeys(KINDS, 0)

    def fresh(self, kind: str, count: int) -> np.ndarray:
        start = self.next[kind]
        self.next[kind] = start + count
        return np.arange(start, start + count, dtype=np.int64)


def _popular(rng: np.random.Generator, pool: int, exponent: float, count: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, pool + 1, dtype=np.float64) ** exponent
    return rng.choice(pool, size=count, p=weights / weights.sum()).astype(np.int64)


def _group_sizes(rng: np.random.Generator, sizes: list[int], p: list[float], total: int):
    draw = rng.choice(sizes, size=total, p=np.asarray(p) / sum(p))
    cut = int(np.searchsorted(np.cumsum(draw), total)) + 1
    draw = draw[:cut].copy()
    draw[-1] -= int(draw.sum()) - total
    return draw[draw > 0]


def generate(size: int, rings: int, extra: int, seed: int) -> Population:
    rng = np.random.default_rng(seed)
    ids = _Ids()
    ring_sizes = rng.integers(5, 31, rings)
    ring_total = int(ring_sizes.sum())
    legit = size - ring_total + extra
    if legit <= 0:
        raise ValueError("population too small for the rings")
    cols = {column: np.full(legit, -1, dtype=np.int64) for column in COLUMNS}
    cgnat_pool = max(size // 50, 10)
    cgnat = ids.fresh("ip", cgnat_pool)
    employer_pool = max(size // 10, 10)
    employers = ids.fresh("employer", employer_pool)

    # own identifiers first; sharing overrides them below
    for kind in ("phone", "device", "bank_card", "emergency_contact"):
        cols[kind] = ids.fresh(kind, legit)
    employed = rng.random(legit) < 0.8
    cols["employer"] = np.where(employed, employers[_popular(rng, employer_pool, 1.0, legit)], -1)
    cols["ip"] = cgnat[_popular(rng, cgnat_pool, 0.8, legit)]

    # dormitories, then households
    n_dorm = int(legit * 0.03)
    dorm_sizes = _group_sizes(rng, list(range(10, 151)), [1.0] * 141, n_dorm)
    dorm = np.repeat(np.arange(len(dorm_sizes)), dorm_sizes)
    d_address = ids.fresh("address", len(dorm_sizes))
    d_ip = ids.fresh("ip", len(dorm_sizes))
    d_employer = employers[rng.integers(0, employer_pool, len(dorm_sizes))]
    sl = slice(0, n_dorm)
    cols["address"][sl] = d_address[dorm]
    cols["ip"][sl] = np.where(rng.random(n_dorm) < 0.6, d_ip[dorm], cols["ip"][sl])
    cols["employer"][sl] = np.where(
        rng.random(n_dorm) < 0.9, d_employer[dorm], cols["employer"][sl]
    )

    n_home = legit - n_dorm
    h_sizes = _group_sizes(rng, [1, 2, 3, 4, 5, 6], [55, 33, 9, 2.5, 0.4, 0.1], n_home)
    houses = len(h_sizes)
    household = np.repeat(np.arange(houses), h_sizes)
    first = np.repeat(np.cumsum(h_sizes) - h_sizes, h_sizes) + n_dorm  # row of the first member
    rank = np.arange(n_dorm, legit) - first
    hs = slice(n_dorm, legit)
    h_address = ids.fresh("address", houses)
    cols["address"][hs] = h_address[household]
    broadband = rng.random(houses) < 0.6
    h_ip = np.where(broadband, ids.fresh("ip", houses), -1)
    at_home = (h_ip[household] >= 0) & (rng.random(n_home) < 0.6)
    cols["ip"][hs] = np.where(at_home, h_ip[household], cols["ip"][hs])
    later = rank >= 1
    for kind, share in (("phone", 0.08), ("device", 0.10)):
        take = later & (rng.random(n_home) < share)
        cols[kind][hs] = np.where(take, cols[kind][first], cols[kind][hs])
    take = (rank == 1) & (rng.random(n_home) < 0.05)
    cols["bank_card"][hs] = np.where(take, cols["bank_card"][first], cols["bank_card"][hs])
    owner = (rank == 0) & (rng.random(n_home) < 0.12)
    enterprise = np.full(n_home, -1, dtype=np.int64)
    enterprise[owner] = ids.fresh("enterprise", int(owner.sum()))
    co_owner = (rank == 1) & (enterprise[first - n_dorm] >= 0) & (rng.random(n_home) < 0.3)
    enterprise[co_owner] = enterprise[first - n_dorm][co_owner]
    cols["enterprise"][hs] = enterprise

    # extended families link households through a shared emergency contact (a parent)
    f_sizes = _group_sizes(rng, [1, 2, 3], [50, 35, 15], houses)
    family = np.repeat(np.arange(len(f_sizes)), f_sizes)
    parent = ids.fresh("emergency_contact", len(f_sizes))
    names_parent = rng.random(n_home) < 0.4
    family_of = family[household]
    cols["emergency_contact"][hs] = np.where(
        names_parent, parent[family_of], cols["emergency_contact"][hs]
    )

    # second contact: a friend or colleague; 30 % name one from a shared pool, so circles of
    # friends are linked by weak contact links
    friends = ids.fresh("emergency_contact", max(legit // 4, 1))
    own = ids.fresh("emergency_contact", legit)
    popular = friends[rng.integers(0, len(friends), legit)]
    cols["second_contact"] = np.where(rng.random(legit) < 0.3, popular, own)

    # device resale: a second-hand device was used by a random stranger before
    resold = np.flatnonzero(rng.random(legit) < 0.03)
    cols["device"][resold] = cols["device"][rng.integers(0, legit, len(resold))]

    # the incremental sample: random legitimate applicants kept apart, applied last
    order = rng.permutation(legit)
    main_legit, extra_rows = order[: legit - extra], order[legit - extra :]

    ring_cols = {column: np.full(ring_total, -1, dtype=np.int64) for column in COLUMNS}
    ring_of = np.repeat(np.arange(rings), ring_sizes)
    # cells: one per intermediary (中介), about 5 members each, numbered across all rings
    cells_per_ring = np.maximum(1, np.rint(ring_sizes / 5)).astype(np.int64)
    cell_start = np.cumsum(cells_per_ring) - cells_per_ring
    cell = cell_start[ring_of] + (rng.random(ring_total) * cells_per_ring[ring_of]).astype(np.int64)
    n_cells = int(cells_per_ring.sum())
    for kind, chance in CELL_SHARING.items():
        own = ids.fresh(kind, ring_total) if kind != "ip" else None
        fallback = own if own is not None else cgnat[_popular(rng, cgnat_pool, 0.8, ring_total)]
        shared = ids.fresh(kind, n_cells)[cell]
        ring_cols[kind] = np.where(rng.random(ring_total) < chance, shared, fallback)
    for kind, (per, chance) in RING_SHARING.items():
        pool_size = np.maximum(1, np.rint(ring_sizes / per)).astype(np.int64)
        base = ids.fresh(kind, int(pool_size.sum()))
        start = np.cumsum(pool_size) - pool_size
        pick = start[ring_of] + (rng.random(ring_total) * pool_size[ring_of]).astype(np.int64)
        own = ids.fresh(kind, ring_total)
        ring_cols[kind] = np.where(rng.random(ring_total) < chance, base[pick], own)
    # the organizer's numbers, named as second contact by half of the members
    pool_size = np.maximum(1, np.rint(ring_sizes / 10)).astype(np.int64)
    base = ids.fresh("emergency_contact", int(pool_size.sum()))
    start = np.cumsum(pool_size) - pool_size
    pick = start[ring_of] + (rng.random(ring_total) * pool_size[ring_of]).astype(np.int64)
    own = ids.fresh("emergency_contact", ring_total)
    ring_cols["second_contact"] = np.where(rng.random(ring_total) < 0.5, base[pick], own)
    fake = ids.fresh("employer", rings)
    roll = rng.random(ring_total)
    real = employers[_popular(rng, employer_pool, 1.0, ring_total)]
    ring_cols["employer"] = np.where(roll < 0.3, fake[ring_of], np.where(roll < 0.7, real, -1))
    # touching legitimate households
    lives = np.flatnonzero(rng.random(ring_total) < 0.25)
    host = first[rng.integers(0, n_home, len(lives))]
    ring_cols["address"][lives] = cols["address"][host]
    home_ip = h_ip[household[host - n_dorm]]
    keep_ip = (home_ip >= 0) & (rng.random(len(lives)) < 0.5)
    ring_cols["ip"][lives] = np.where(keep_ip, home_ip, ring_cols["ip"][lives])
    contact = np.flatnonzero(rng.random(ring_total) < 0.2)
    ring_cols["emergency_contact"][contact] = parent[rng.integers(0, len(f_sizes), len(contact))]

    # main population: legitimate and ring applicants shuffled together; the extra ones last
    mixed = rng.permutation(size)
    columns = {}
    for column in COLUMNS:
        body = np.concatenate([cols[column][main_legit], ring_cols[column]])[mixed]
        columns[column] = np.concatenate([body, cols[column][extra_rows]])
    ring = np.concatenate([np.full(len(main_legit), -1), ring_of])[mixed]
    ring = np.concatenate([ring, np.full(extra, -1)])
    return Population(columns=columns, ring=ring.astype(np.int64), size=size, extra=extra)
