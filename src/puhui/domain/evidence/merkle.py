"""RFC 9162 Merkle tree hashing, inclusion and consistency proofs (R-9.4 evidence system).

The evidence log is an append-only Merkle tree in the style of Certificate Transparency
(RFC 9162 §2.1): a leaf hash is ``H(0x00 || data)``, an interior node ``H(0x01 || left ||
right)``, the root of ``n`` leaves splits at the largest power of two below ``n``. ``H`` is SM3
(GB/T 32905, the default expected by GB/T 39786) or SHA-256.

Storage keeps only the hashes of *perfect* subtrees: node ``(level, index)`` covers leaves
``[index * 2**level, (index + 1) * 2**level)`` and exists once all of them are appended, so it
never changes. Level 0 holds the leaf hashes. Every hash a proof needs is a perfect node or the
right fold of a few of them (the right edge of the tree), so a proof in a log of ``n`` leaves
reads ``O(log n)`` nodes: :func:`inclusion_plan` and :func:`consistency_plan` name them,
:meth:`ProofPlan.assemble` turns the fetched hashes into the proof. A database adapter fetches
the nodes of a plan in one query; :func:`inclusion_proof` and :func:`consistency_proof` do the
same through any :class:`NodeStore`.

:func:`verify_inclusion` and :func:`verify_consistency` follow RFC 9162 §2.1.3.2 and §2.1.4.2
step by step and raise :class:`InvalidProof` (code ``evidence.inclusion_proof_invalid`` or
``evidence.consistency_proof_invalid``) with a plain-words reason.

A proof binds a leaf (or an older root) to a root hash; the *tree size* is bound to that root by
the signed tree head. Some sizes share a proof shape (leaf 0 has the same path in trees of 5 and
6 leaves), so a verifier must take ``(tree_size, root)`` together from a verified tree head.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from puhui.domain.audit import HashAlgorithm
from puhui.domain.errors import DomainError, ErrorKind, ValidationError

__all__ = [
    "DIGEST_SIZE",
    "CompactTree",
    "ConsistencyProof",
    "Frontier",
    "InclusionProof",
    "InvalidProof",
    "NodeId",
    "NodeStore",
    "ProofPlan",
    "TreeHasher",
    "consistency_plan",
    "consistency_proof",
    "inclusion_plan",
    "inclusion_proof",
    "range_peaks",
    "root",
    "root_from_leaf_hashes",
    "root_from_leaves",
    "root_plan",
    "verify_consistency",
    "verify_inclusion",
]

DIGEST_SIZE = 32
"""SM3 and SHA-256 both give 32-byte digests."""

NodeId = tuple[int, int]
"""``(level, index)`` of a perfect subtree; level 0 is a leaf."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class InvalidProof(DomainError):
    """A proof does not show what it claims (tampered leaf, proof, root, index or size)."""

    code = "evidence.proof_invalid"
    kind = ErrorKind.INVALID


class TreeHasher:
    """RFC 9162 §2.1.1 hashing with SM3 (default) or SHA-256.

    Hashing objects are created by copying a primed prototype (cheaper than a name lookup in
    OpenSSL for every node).
    """

    __slots__ = ("_empty", "_leaf", "_node", "algorithm")

    def __init__(self, algorithm: HashAlgorithm = HashAlgorithm.SM3) -> None:
        algorithm = HashAlgorithm(algorithm)
        try:
            proto = hashlib.new(algorithm.value)
        except ValueError as exc:
            raise DomainError(
                f"Hash algorithm {algorithm.value} is not available in this Python/OpenSSL build",
                code="evidence.hash_unavailable",
                kind=ErrorKind.UNAVAILABLE,
            ) from exc
        if proto.digest_size != DIGEST_SIZE:  # pragma: no cover - both algorithms are 256-bit
            raise ValidationError("Merkle hashes must be 32 bytes", code="evidence.hash_size")
        self.algorithm = algorithm
        self._empty = proto.digest()
        self._leaf = proto.copy()
        self._leaf.update(_LEAF_PREFIX)
        self._node = proto.copy()
        self._node.update(_NODE_PREFIX)

    def __repr__(self) -> str:
        return f"TreeHasher({self.algorithm.value!r})"

    def empty_root(self) -> bytes:
        """MTH({}) = HASH() — the root of the empty tree."""
        return self._empty

    def hash_leaf(self, data: bytes) -> bytes:
        """MTH({d}) = HASH(0x00 || d)."""
        h = self._leaf.copy()
        h.update(data)
        return h.digest()

    def hash_children(self, left: bytes, right: bytes) -> bytes:
        """HASH(0x01 || left || right)."""
        h = self._node.copy()
        h.update(left)
        h.update(right)
        return h.digest()

    def fold_right(self, hashes: Sequence[bytes]) -> bytes:
        """``H(h0, H(h1, ... H(h[k-2], h[k-1])))``: the hash of a right edge made of perfect
        subtrees of decreasing size (the RFC split puts the largest power of two on the left)."""
        acc = hashes[-1]
        for h in reversed(hashes[:-1]):
            acc = self.hash_children(h, acc)
        return acc


# --- tree arithmetic -------------------------------------------------------------------------


def _check_size(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(
            f"{name} must be a non-negative integer",
            code="evidence.bad_size",
            details={name: value},
        )


def range_peaks(begin: int, end: int) -> tuple[NodeId, ...]:
    """The perfect subtrees, left to right and largest first, that make up the RFC subtree of
    leaves ``[begin, end)``; ``begin`` must be a multiple of the power of two above
    ``end - begin`` (true for every subtree of the RFC tree, and for ``begin = 0``)."""
    peaks: list[NodeId] = []
    width = end - begin
    while width:
        level = width.bit_length() - 1
        peaks.append((level, begin >> level))
        begin += 1 << level
        width -= 1 << level
    return tuple(peaks)


@dataclass(frozen=True, slots=True)
class ProofPlan:
    """Which stored perfect nodes make each element of a proof (or a root).

    ``elements[k]`` is a tuple of node ids whose :meth:`TreeHasher.fold_right` is element ``k``;
    a single id is simply that node's hash.
    """

    elements: tuple[tuple[NodeId, ...], ...]

    def node_ids(self) -> list[NodeId]:
        """Every node to fetch, each once."""
        return list(dict.fromkeys(node for element in self.elements for node in element))

    def assemble(self, nodes: Mapping[NodeId, bytes], hasher: TreeHasher) -> tuple[bytes, ...]:
        """The proof elements from the fetched ``nodes``."""
        try:
            return tuple(
                nodes[element[0]]
                if len(element) == 1
                else hasher.fold_right([nodes[node] for node in element])
                for element in self.elements
            )
        except KeyError as exc:
            raise DomainError(
                f"Merkle node {exc.args[0]} is missing from the node store",
                code="evidence.node_missing",
                kind=ErrorKind.NOT_FOUND,
                details={"node": list(exc.args[0])},
            ) from None


def root_plan(size: int) -> ProofPlan:
    """The root of ``size`` leaves is the right fold of its peaks (one element)."""
    _check_size(size, "tree_size")
    return ProofPlan((range_peaks(0, size),) if size else ())


def _path_plan(level: int, index: int, size: int) -> list[tuple[NodeId, ...]]:
    """Audit path of perfect node ``(level, index)`` up to the root of ``size`` leaves.

    Bottom up: at each level the sibling of the node on the path. A sibling to the left is
    always complete; one to the right may be cut by the end of the tree (then it is the right
    fold of the peaks of what is there); one past the end is skipped (the node is promoted).
    """
    elements: list[tuple[NodeId, ...]] = []
    while not (index == 0 and (1 << level) >= size):
        sibling = index ^ 1
        begin = sibling << level
        if begin < size:
            if ((sibling + 1) << level) <= size:
                elements.append(((level, sibling),))
            else:
                elements.append(range_peaks(begin, size))
        index >>= 1
        level += 1
    return elements


def inclusion_plan(index: int, size: int) -> ProofPlan:
    """Nodes of the inclusion proof of leaf ``index`` in a tree of ``size`` leaves (RFC 9162
    §2.1.3.1 PATH), in proof order (leaf's sibling first)."""
    _check_size(index, "leaf_index")
    _check_size(size, "tree_size")
    if index >= size:
        raise ValidationError(
            f"Leaf {index} is not in a tree of {size} leaves",
            code="evidence.index_out_of_range",
            details={"leaf_index": index, "tree_size": size},
        )
    return ProofPlan(tuple(_path_plan(0, index, size)))


def consistency_plan(first: int, second: int) -> ProofPlan:
    """Nodes of the consistency proof from ``first`` to ``second`` leaves (RFC 9162 §2.1.4.1).

    The proof is the largest perfect subtree ending at ``first`` (left out when ``first`` is a
    power of two: it is the old root, which the verifier has) followed by its audit path in the
    tree of ``second`` leaves. Empty when ``first`` is 0 or equals ``second``.
    """
    _check_size(first, "first_size")
    _check_size(second, "second_size")
    if first > second:
        raise ValidationError(
            f"No consistency proof from {first} to {second} leaves: a log only grows",
            code="evidence.sizes_out_of_order",
            details={"first_size": first, "second_size": second},
        )
    if first in (0, second):
        return ProofPlan(())
    level = (first & -first).bit_length() - 1
    index = (first >> level) - 1
    elements = [] if index == 0 else [((level, index),)]
    return ProofPlan((*elements, *_path_plan(level, index, second)))


# --- proofs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Leaf ``leaf_index`` is in the tree of ``tree_size`` leaves (RFC 9162 §2.1.3)."""

    leaf_index: int
    tree_size: int
    path: tuple[bytes, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "path": [h.hex() for h in self.path],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> InclusionProof:
        return cls(
            leaf_index=_int_field(data, "leaf_index"),
            tree_size=_int_field(data, "tree_size"),
            path=_hex_list(data, "path"),
        )


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """The tree of ``first_size`` leaves is a prefix of the tree of ``second_size`` (§2.1.4)."""

    first_size: int
    second_size: int
    path: tuple[bytes, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "first_size": self.first_size,
            "second_size": self.second_size,
            "path": [h.hex() for h in self.path],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ConsistencyProof:
        return cls(
            first_size=_int_field(data, "first_size"),
            second_size=_int_field(data, "second_size"),
            path=_hex_list(data, "path"),
        )


def _int_field(data: Mapping[str, object], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{name} must be a non-negative integer", code="evidence.bad_proof")
    return value


def _hex_list(data: Mapping[str, object], name: str) -> tuple[bytes, ...]:
    value = data.get(name)
    if not isinstance(value, list):
        raise ValidationError(f"{name} must be a list of hex hashes", code="evidence.bad_proof")
    try:
        return tuple(bytes.fromhex(item) for item in value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{name} must be a list of hex hashes", code="evidence.bad_proof"
        ) from exc


class NodeStore(Protocol):
    """Read access to the perfect-subtree hashes of a log."""

    def get_node(self, level: int, index: int) -> bytes: ...


def _fetch(store: NodeStore, plan: ProofPlan, hasher: TreeHasher) -> tuple[bytes, ...]:
    nodes = {node: store.get_node(*node) for node in plan.node_ids()}
    return plan.assemble(nodes, hasher)


def inclusion_proof(store: NodeStore, index: int, size: int, hasher: TreeHasher) -> InclusionProof:
    """Inclusion proof of leaf ``index`` in the first ``size`` leaves of ``store``."""
    return InclusionProof(index, size, _fetch(store, inclusion_plan(index, size), hasher))


def consistency_proof(
    store: NodeStore, first: int, second: int, hasher: TreeHasher
) -> ConsistencyProof:
    """Consistency proof between the trees of ``first`` and ``second`` leaves of ``store``."""
    return ConsistencyProof(first, second, _fetch(store, consistency_plan(first, second), hasher))


def root(store: NodeStore, size: int, hasher: TreeHasher) -> bytes:
    """Root hash of the first ``size`` leaves of ``store``."""
    elements = _fetch(store, root_plan(size), hasher)
    return elements[0] if elements else hasher.empty_root()


# --- verification ----------------------------------------------------------------------------


def _fail(code: str, message: str) -> InvalidProof:
    return InvalidProof(message, code=code)


def _check_hashes(hashes: Iterable[bytes], code: str, what: str) -> None:
    for h in hashes:
        if not isinstance(h, bytes) or len(h) != DIGEST_SIZE:
            raise _fail(code, f"{what} is not a {DIGEST_SIZE}-byte hash")


def verify_inclusion(
    hasher: TreeHasher, leaf_hash: bytes, proof: InclusionProof, root_hash: bytes
) -> None:
    """RFC 9162 §2.1.3.2: recompute the root from ``leaf_hash`` and the audit path.

    Raises :class:`InvalidProof` unless the path leads exactly to ``root_hash``.
    """
    code = "evidence.inclusion_proof_invalid"
    _check_hashes([leaf_hash, root_hash, *proof.path], code, "a leaf, root or path element")
    index, size = proof.leaf_index, proof.tree_size
    if index < 0 or index >= size:
        raise _fail(code, f"leaf index {index} is not inside a tree of {size} leaves")
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof.path:
        if sn == 0:
            raise _fail(code, "the inclusion proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            r = hasher.hash_children(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hasher.hash_children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _fail(code, "the inclusion proof is too short for this leaf index and tree size")
    if r != root_hash:
        raise _fail(
            code,
            f"leaf {index} with this proof does not lead to the root of the {size}-leaf tree: "
            "the leaf, the proof or the root was changed",
        )


def verify_consistency(
    hasher: TreeHasher, proof: ConsistencyProof, first_root: bytes, second_root: bytes
) -> None:
    """RFC 9162 §2.1.4.2: the ``first_size`` tree with ``first_root`` is a prefix of the
    ``second_size`` tree with ``second_root``. Raises :class:`InvalidProof` otherwise — which is
    what a log that rewrote history produces."""
    code = "evidence.consistency_proof_invalid"
    _check_hashes([first_root, second_root, *proof.path], code, "a root or path element")
    first, second, path = proof.first_size, proof.second_size, list(proof.path)
    if first < 0 or first > second:
        raise _fail(code, f"a log cannot shrink from {first} to {second} leaves")
    if first == 0:
        if path:
            raise _fail(code, "a consistency proof from the empty tree must be empty")
        if first_root != hasher.empty_root():
            raise _fail(code, "the first root is not the root of the empty tree")
        return
    if first == second:
        if path:
            raise _fail(code, "a consistency proof between equal sizes must be empty")
        if first_root != second_root:
            raise _fail(code, f"two different roots for the same tree size {first}")
        return
    if not path:
        raise _fail(code, "the consistency proof is empty")
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise _fail(code, "the consistency proof is longer than the tree is high")
        if fn & 1 or fn == sn:
            fr = hasher.hash_children(c, fr)
            sr = hasher.hash_children(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hasher.hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _fail(code, "the consistency proof is too short for these tree sizes")
    if fr != first_root:
        raise _fail(
            code,
            f"the proof does not reproduce the {first}-leaf root: the older tree is not a "
            "prefix of the newer one (history was rewritten) or the proof or root was changed",
        )
    if sr != second_root:
        raise _fail(
            code,
            f"the proof does not reproduce the {second}-leaf root: the newer tree does not "
            "extend the older one, or the proof or root was changed",
        )


# --- roots from leaves and the in-memory tree ------------------------------------------------


def root_from_leaf_hashes(leaf_hashes: Iterable[bytes], hasher: TreeHasher) -> bytes:
    """MTH of the leaves with these hashes, in O(n) time and O(log n) memory."""
    tree = Frontier(hasher)
    for h in leaf_hashes:
        tree.push(h)
    return tree.root()


def root_from_leaves(leaves: Iterable[bytes], hasher: TreeHasher) -> bytes:
    """MTH(D[n]) of the leaf data ``leaves`` (RFC 9162 §2.1.1)."""
    return root_from_leaf_hashes((hasher.hash_leaf(d) for d in leaves), hasher)


class Frontier:
    """The right edge of a growing tree: its peaks (the perfect subtrees of the binary
    decomposition of :attr:`size`, largest first) — enough to append leaves and to compute the
    root. ``push`` reports each perfect node it completes (amortised one per leaf)."""

    __slots__ = ("hasher", "peaks", "size")

    def __init__(self, hasher: TreeHasher, size: int = 0, peaks: Sequence[bytes] = ()) -> None:
        if len(peaks) != size.bit_count():
            raise ValidationError(
                f"a tree of {size} leaves has {size.bit_count()} peaks, not {len(peaks)}",
                code="evidence.bad_frontier",
            )
        self.hasher = hasher
        self.peaks: list[bytes] = list(peaks)
        self.size = size

    def push(
        self, leaf_hash: bytes, on_node: Callable[[int, int, bytes], None] | None = None
    ) -> None:
        """Append a leaf hash; ``on_node(level, index, hash)`` for every completed node."""
        h, index, level = leaf_hash, self.size, 0
        while index & 1:
            h = self.hasher.hash_children(self.peaks.pop(), h)
            index >>= 1
            level += 1
            if on_node is not None:
                on_node(level, index, h)
        self.peaks.append(h)
        self.size += 1

    def root(self) -> bytes:
        return self.hasher.fold_right(self.peaks) if self.peaks else self.hasher.empty_root()


class CompactTree:
    """An in-memory append-only Merkle tree that keeps every perfect-subtree hash.

    Each level is one ``bytearray`` of 32-byte hashes (a 10-million-leaf tree takes ~640 MB),
    appending a leaf adds amortised one interior node, and :meth:`get_node` makes it a
    :class:`NodeStore` for proofs and roots of any size up to :attr:`size`.
    """

    __slots__ = ("_frontier", "hasher", "levels")

    def __init__(self, hasher: TreeHasher | None = None) -> None:
        self.hasher = hasher or TreeHasher()
        self.levels: list[bytearray] = [bytearray()]
        self._frontier = Frontier(self.hasher)

    @classmethod
    def from_levels(cls, levels: Sequence[bytes], hasher: TreeHasher) -> CompactTree:
        """Load perfect-node hashes built elsewhere (level ``k`` = concatenated hashes of
        nodes ``(k, 0), (k, 1), ...``); their shape is checked, their hashes are trusted."""
        tree = cls(hasher)
        size = len(levels[0]) // DIGEST_SIZE if levels else 0
        for level in range(max(size.bit_length(), 1)):
            data = levels[level] if level < len(levels) else b""
            if len(data) != (size >> level) * DIGEST_SIZE:
                raise ValidationError(
                    f"level {level} must hold {size >> level} hashes", code="evidence.bad_levels"
                )
            if level:
                tree.levels.append(bytearray(data))
            else:
                tree.levels[0] = bytearray(data)
        peaks = [tree._hash_at(level, index) for level, index in range_peaks(0, size)]
        tree._frontier = Frontier(hasher, size, peaks)
        return tree

    @property
    def size(self) -> int:
        return self._frontier.size

    def _store(self, level: int, index: int, h: bytes) -> None:
        if level == len(self.levels):
            self.levels.append(bytearray())
        self.levels[level] += h

    def append(self, leaf_hash: bytes) -> int:
        """Append a leaf hash; returns its index."""
        _check_hashes([leaf_hash], "evidence.bad_leaf_hash", "the leaf hash")
        index = self.size
        self.levels[0] += leaf_hash
        self._frontier.push(leaf_hash, self._store)
        return index

    def append_data(self, data: bytes) -> int:
        """Append leaf data (hashed as a leaf); returns its index."""
        return self.append(self.hasher.hash_leaf(data))

    def get_node(self, level: int, index: int) -> bytes:
        if level >= len(self.levels) or ((index + 1) << level) > self.size or index < 0:
            raise DomainError(
                f"Merkle node {(level, index)} does not exist in a tree of {self.size} leaves",
                code="evidence.node_missing",
                kind=ErrorKind.NOT_FOUND,
            )
        return self._hash_at(level, index)

    def _hash_at(self, level: int, index: int) -> bytes:
        offset = index * DIGEST_SIZE
        return bytes(self.levels[level][offset : offset + DIGEST_SIZE])

    def _within(self, size: int | None) -> int:
        if size is None:
            return self.size
        _check_size(size, "tree_size")
        if size > self.size:
            raise ValidationError(
                f"The tree has {self.size} leaves, not {size}",
                code="evidence.size_beyond_log",
                details={"tree_size": size, "log_size": self.size},
            )
        return size

    def root(self, size: int | None = None) -> bytes:
        """Root of the first ``size`` leaves (default: all)."""
        size = self._within(size)
        if size == self.size:
            return self._frontier.root()
        return root(self, size, self.hasher)

    def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        """Proof that leaf ``index`` is in the tree of ``size`` leaves (default: all)."""
        return inclusion_proof(self, index, self._within(size), self.hasher)

    def consistency_proof(self, first: int, second: int | None = None) -> ConsistencyProof:
        """Proof that the tree of ``first`` leaves is a prefix of that of ``second``."""
        second = self._within(second)
        return consistency_proof(self, first, second, self.hasher)
