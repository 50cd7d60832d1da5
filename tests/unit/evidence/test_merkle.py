"""RFC 9162 Merkle tree: roots, inclusion and consistency proofs, and tamper detection (R-9.4).

The reference here is the RFC's own recursive definition (MTH, PATH, SUBPROOF, §2.1.1-2.1.4),
written naively below; the log's node-store implementation must agree with it for every size,
and the RFC verification algorithms must accept its proofs and refuse any change.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from puhui.domain.audit import HashAlgorithm
from puhui.domain.errors import DomainError, ValidationError
from puhui.domain.evidence.merkle import (
    CompactTree,
    ConsistencyProof,
    Frontier,
    InclusionProof,
    InvalidProof,
    TreeHasher,
    consistency_plan,
    inclusion_plan,
    root_from_leaf_hashes,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

SM3 = TreeHasher(HashAlgorithm.SM3)
SHA256 = TreeHasher(HashAlgorithm.SHA256)
hashers = st.sampled_from([SM3, SHA256])


# --- the RFC definitions, naively -------------------------------------------------------------


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)  # largest power of two smaller than n


def mth(h: TreeHasher, d: list[bytes]) -> bytes:
    if not d:
        return h.empty_root()
    if len(d) == 1:
        return h.hash_leaf(d[0])
    k = _split(len(d))
    return h.hash_children(mth(h, d[:k]), mth(h, d[k:]))


def path(h: TreeHasher, m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _split(len(d))
    if m < k:
        return [*path(h, m, d[:k]), mth(h, d[k:])]
    return [*path(h, m - k, d[k:]), mth(h, d[:k])]


def subproof(h: TreeHasher, m: int, d: list[bytes], whole: bool) -> list[bytes]:
    if m == len(d):
        return [] if whole else [mth(h, d)]
    k = _split(len(d))
    if m <= k:
        return [*subproof(h, m, d[:k], whole), mth(h, d[k:])]
    return [*subproof(h, m - k, d[k:], False), mth(h, d[:k])]


def tree_of(h: TreeHasher, leaves: list[bytes]) -> CompactTree:
    tree = CompactTree(h)
    for leaf in leaves:
        tree.append_data(leaf)
    return tree


def flip(data: bytes, position: int) -> bytes:
    position %= len(data)
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


# distinct leaves: with two equal leaves, "leaf i is at index j" can be true for j != i
leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=70, unique=True)


# --- known answers ----------------------------------------------------------------------------

# The RFC 6962 test leaves and roots used by Certificate Transparency and Trillian (SHA-256).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
H_96A2 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
H_5F08 = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
H_6B47 = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
H_BC1A = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
H_CA85 = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
H_0EBC = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"


def test_rfc6962_roots_of_the_certificate_transparency_test_vectors() -> None:
    tree = tree_of(SHA256, CT_LEAVES)
    assert [tree.root(n).hex() for n in range(1, 9)] == CT_ROOTS
    assert SHA256.empty_root().hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@pytest.mark.parametrize(
    ("index", "size", "expected"),
    [
        (0, 8, [H_96A2, H_5F08, H_6B47]),
        (5, 8, [H_BC1A, H_CA85, CT_ROOTS[3]]),
        (0, 1, []),
    ],
)
def test_inclusion_proofs_of_the_test_vectors(index: int, size: int, expected: list[str]) -> None:
    tree = tree_of(SHA256, CT_LEAVES)
    proof = tree.inclusion_proof(index, size)
    assert [p.hex() for p in proof.path] == expected
    verify_inclusion(SHA256, SHA256.hash_leaf(CT_LEAVES[index]), proof, tree.root(size))


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (1, 8, [H_96A2, H_5F08, H_6B47]),
        (6, 8, [H_0EBC, H_CA85, CT_ROOTS[3]]),
        (2, 5, [H_5F08, H_BC1A]),
    ],
)
def test_consistency_proofs_of_the_test_vectors(
    first: int, second: int, expected: list[str]
) -> None:
    tree = tree_of(SHA256, CT_LEAVES)
    proof = tree.consistency_proof(first, second)
    assert [p.hex() for p in proof.path] == expected
    verify_consistency(SHA256, proof, tree.root(first), tree.root(second))


def test_sm3_is_the_default_and_matches_the_standard_vectors() -> None:
    assert TreeHasher().algorithm is HashAlgorithm.SM3
    # GB/T 32905 example 1: SM3("abc"); and SM3 of the empty string (the empty tree's root)
    assert hashlib.new("sm3", b"abc").hexdigest() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
    assert SM3.empty_root().hex() == (
        "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
    )
    assert SM3.hash_leaf(b"abc") == hashlib.new("sm3", b"\x00abc").digest()
    assert SM3.hash_children(b"L" * 32, b"R" * 32) == (
        hashlib.new("sm3", b"\x01" + b"L" * 32 + b"R" * 32).digest()
    )


# --- roots ------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(h=hashers, leaves=st.lists(st.binary(max_size=16), max_size=300))
def test_root_equals_the_recursive_mth_for_any_size(h: TreeHasher, leaves: list[bytes]) -> None:
    expected = mth(h, leaves)
    assert root_from_leaves(leaves, h) == expected
    assert root_from_leaf_hashes([h.hash_leaf(d) for d in leaves], h) == expected
    tree = tree_of(h, leaves)
    assert tree.size == len(leaves)
    assert tree.root() == expected


@settings(max_examples=30, deadline=None)
@given(h=hashers, leaves=leaf_lists)
def test_the_compact_tree_gives_the_root_of_every_earlier_size(
    h: TreeHasher, leaves: list[bytes]
) -> None:
    tree = tree_of(h, leaves)
    for m in range(len(leaves) + 1):
        assert tree.root(m) == mth(h, leaves[:m])


@given(n=st.integers(min_value=0, max_value=5000))
def test_appending_stores_amortised_one_interior_node_per_leaf(n: int) -> None:
    tree = CompactTree(SHA256)
    for i in range(n):
        tree.append(i.to_bytes(32, "big"))
    interior = sum(len(level) for level in tree.levels[1:]) // 32
    assert interior == n - n.bit_count()  # every leaf but the peaks' carry-free ones


def test_a_tree_loaded_from_levels_is_the_same_tree() -> None:
    leaves = [bytes([i]) for i in range(37)]
    built = tree_of(SM3, leaves)
    loaded = CompactTree.from_levels([bytes(level) for level in built.levels], SM3)
    assert loaded.size == 37 and loaded.root() == built.root()
    loaded.append_data(b"next")
    built.append_data(b"next")
    assert loaded.root() == built.root()
    with pytest.raises(ValidationError):
        CompactTree.from_levels([bytes(built.levels[0]), b""], SM3)


def test_a_frontier_refuses_peaks_that_do_not_fit_its_size() -> None:
    with pytest.raises(ValidationError) as err:
        Frontier(SM3, 3, [b"\x00" * 32])
    assert err.value.code == "evidence.bad_frontier"


# --- inclusion proofs -------------------------------------------------------------------------


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[TreeHasher, list[bytes], int]:
    h = draw(hashers)
    leaves = draw(leaf_lists)
    return h, leaves, draw(st.integers(min_value=0, max_value=len(leaves) - 1))


@settings(max_examples=150, deadline=None)
@given(case=tree_and_index(), data=st.data())
def test_every_inclusion_proof_verifies_and_any_change_is_detected(
    case: tuple[TreeHasher, list[bytes], int], data: st.DataObject
) -> None:
    h, leaves, index = case
    n = len(leaves)
    tree = tree_of(h, leaves)
    proof = tree.inclusion_proof(index)
    assert list(proof.path) == path(h, index, leaves)
    leaf_hash, root = h.hash_leaf(leaves[index]), tree.root()
    verify_inclusion(h, leaf_hash, proof, root)

    byte = data.draw(st.integers(min_value=0, max_value=10_000), label="byte")
    # the leaf: its data or its hash
    changed = leaves[index] + b"!" if not leaves[index] else flip(leaves[index], byte)
    with pytest.raises(InvalidProof):
        verify_inclusion(h, h.hash_leaf(changed), proof, root)
    # the root
    with pytest.raises(InvalidProof):
        verify_inclusion(h, leaf_hash, proof, flip(root, byte))
    # any byte of any proof element, a dropped or an added element
    if proof.path:
        k = data.draw(st.integers(min_value=0, max_value=len(proof.path) - 1), label="element")
        bad_path = list(proof.path)
        bad_path[k] = flip(bad_path[k], byte)
        with pytest.raises(InvalidProof):
            verify_inclusion(h, leaf_hash, InclusionProof(index, n, tuple(bad_path)), root)
        with pytest.raises(InvalidProof):
            verify_inclusion(h, leaf_hash, InclusionProof(index, n, proof.path[:-1]), root)
    with pytest.raises(InvalidProof):
        verify_inclusion(h, leaf_hash, InclusionProof(index, n, (*proof.path, root)), root)
    # the index
    other = data.draw(st.integers(min_value=0, max_value=n + 3), label="other index")
    assume(other != index)
    with pytest.raises(InvalidProof):
        verify_inclusion(h, leaf_hash, InclusionProof(other, n, proof.path), root)


@settings(max_examples=100, deadline=None)
@given(case=tree_and_index(), new_size=st.integers(min_value=1, max_value=80))
def test_a_proof_for_one_size_does_not_prove_inclusion_in_another_size(
    case: tuple[TreeHasher, list[bytes], int], new_size: int
) -> None:
    h, leaves, index = case
    assume(new_size != len(leaves))
    proof = tree_of(h, leaves).inclusion_proof(index)
    other = tree_of(h, [*leaves, *(b"x%d" % i for i in range(new_size))][:new_size])
    with pytest.raises(InvalidProof):
        verify_inclusion(
            h, h.hash_leaf(leaves[index]), InclusionProof(index, new_size, proof.path), other.root()
        )


def test_tree_size_is_bound_by_the_signed_tree_head_not_by_the_proof() -> None:
    """Leaf 0 has the same audit path in trees of 5 and 6 leaves, so a proof cannot tell the
    two sizes apart against the *same* root: verifiers take (size, root) together from a
    verified signed tree head, as RFC 9162 §8.1.3 does."""
    h = SHA256
    tree = tree_of(h, CT_LEAVES)
    proof = tree.inclusion_proof(0, 5)
    verify_inclusion(h, h.hash_leaf(CT_LEAVES[0]), InclusionProof(0, 6, proof.path), tree.root(5))
    with pytest.raises(InvalidProof):
        verify_inclusion(
            h, h.hash_leaf(CT_LEAVES[0]), InclusionProof(0, 6, proof.path), tree.root(6)
        )


def test_inclusion_refuses_malformed_input() -> None:
    tree = tree_of(SM3, [b"a", b"b", b"c"])
    leaf, root = SM3.hash_leaf(b"a"), tree.root()
    proof = tree.inclusion_proof(0)
    for bad in (
        InclusionProof(0, 0, ()),
        InclusionProof(-1, 3, proof.path),
        InclusionProof(3, 3, proof.path),
        InclusionProof(0, 3, (proof.path[0][:31], proof.path[1])),
    ):
        with pytest.raises(InvalidProof) as err:
            verify_inclusion(SM3, leaf, bad, root)
        assert err.value.code == "evidence.inclusion_proof_invalid"
    with pytest.raises(InvalidProof):
        verify_inclusion(SM3, leaf[:16], proof, root)
    with pytest.raises(ValidationError) as bad_index:
        tree.inclusion_proof(3)
    assert bad_index.value.code == "evidence.index_out_of_range"
    with pytest.raises(ValidationError) as beyond:
        tree.inclusion_proof(0, 4)
    assert beyond.value.code == "evidence.size_beyond_log"


def test_a_sha256_proof_does_not_verify_as_sm3() -> None:
    leaves = [b"a", b"b", b"c", b"d", b"e"]
    tree = tree_of(SHA256, leaves)
    with pytest.raises(InvalidProof):
        verify_inclusion(SM3, SM3.hash_leaf(b"c"), tree.inclusion_proof(2), tree.root())


# --- consistency proofs -----------------------------------------------------------------------


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[TreeHasher, list[bytes], int]:
    h = draw(hashers)
    leaves = draw(leaf_lists)
    return h, leaves, draw(st.integers(min_value=0, max_value=len(leaves)))


@settings(max_examples=150, deadline=None)
@given(case=two_sizes(), data=st.data())
def test_every_consistency_proof_verifies_and_any_changed_byte_is_detected(
    case: tuple[TreeHasher, list[bytes], int], data: st.DataObject
) -> None:
    h, leaves, m = case
    n = len(leaves)
    tree = tree_of(h, leaves)
    proof = tree.consistency_proof(m)
    assert list(proof.path) == (subproof(h, m, leaves, True) if 0 < m < n else [])
    first, second = tree.root(m), tree.root()
    verify_consistency(h, proof, first, second)

    byte = data.draw(st.integers(min_value=0, max_value=10_000), label="byte")
    with pytest.raises(InvalidProof):
        verify_consistency(h, proof, flip(first, byte), second)
    if m:  # an empty tree is a prefix of every tree, whatever its root
        with pytest.raises(InvalidProof):
            verify_consistency(h, proof, first, flip(second, byte))
    if proof.path:
        k = data.draw(st.integers(min_value=0, max_value=len(proof.path) - 1), label="element")
        bad_path = list(proof.path)
        bad_path[k] = flip(bad_path[k], byte)
        with pytest.raises(InvalidProof):
            verify_consistency(h, ConsistencyProof(m, n, tuple(bad_path)), first, second)
        with pytest.raises(InvalidProof):
            verify_consistency(h, ConsistencyProof(m, n, proof.path[1:]), first, second)
    with pytest.raises(InvalidProof):
        verify_consistency(h, ConsistencyProof(m, n, (*proof.path, second)), first, second)


@settings(max_examples=150, deadline=None)
@given(case=two_sizes(), data=st.data())
def test_a_log_that_rewrites_history_fails_the_consistency_proof(
    case: tuple[TreeHasher, list[bytes], int], data: st.DataObject
) -> None:
    h, leaves, m = case
    assume(m >= 1)
    honest = tree_of(h, leaves)
    old_root = honest.root(m)  # what a client (or notary) kept from an earlier tree head
    j = data.draw(st.integers(min_value=0, max_value=m - 1), label="rewritten leaf")
    rewritten = list(leaves)
    rewritten[j] = leaves[j] + b"\xff"
    forged = tree_of(h, rewritten)
    with pytest.raises(InvalidProof) as err:
        verify_consistency(h, forged.consistency_proof(m), old_root, forged.root())
    assert err.value.code == "evidence.consistency_proof_invalid"


def test_consistency_edge_cases() -> None:
    tree = tree_of(SM3, [b"a", b"b", b"c"])
    root = tree.root()
    verify_consistency(SM3, ConsistencyProof(0, 3, ()), SM3.empty_root(), root)
    verify_consistency(SM3, ConsistencyProof(3, 3, ()), root, root)
    for proof, first, second in (
        (ConsistencyProof(0, 3, (root,)), SM3.empty_root(), root),
        (ConsistencyProof(0, 3, ()), root, root),
        (ConsistencyProof(3, 3, (root,)), root, root),
        (ConsistencyProof(3, 3, ()), root, tree.root(2)),
        (ConsistencyProof(2, 3, ()), tree.root(2), root),
        (ConsistencyProof(3, 2, ()), root, tree.root(2)),
    ):
        with pytest.raises(InvalidProof):
            verify_consistency(SM3, proof, first, second)
    with pytest.raises(ValidationError) as err:
        consistency_plan(3, 2)
    assert err.value.code == "evidence.sizes_out_of_order"


# --- plans: O(log n) nodes ----------------------------------------------------------------


@given(
    size=st.integers(min_value=1, max_value=2**48),
    data=st.data(),
)
def test_proof_plans_read_logarithmically_many_perfect_nodes(
    size: int, data: st.DataObject
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    first = data.draw(st.integers(min_value=0, max_value=size))
    bits = size.bit_length()
    for plan in (inclusion_plan(index, size), consistency_plan(first, size)):
        nodes = plan.node_ids()
        assert len(nodes) <= 2 * bits + 1
        for level, node in nodes:  # only complete subtrees of the tree of `size` leaves
            assert (node + 1) << level <= size
        # at most one element is a right edge made of several nodes
        assert sum(len(element) > 1 for element in plan.elements) <= 1


def test_a_store_without_the_node_reports_it() -> None:
    plan = inclusion_plan(1, 4)
    with pytest.raises(DomainError) as err:
        plan.assemble({}, SM3)
    assert err.value.code == "evidence.node_missing"
    tree = CompactTree(SM3)
    with pytest.raises(DomainError):
        tree.get_node(0, 0)


def test_proofs_round_trip_through_json_form() -> None:
    tree = tree_of(SM3, [bytes([i]) for i in range(11)])
    inc = tree.inclusion_proof(7)
    con = tree.consistency_proof(5)
    assert InclusionProof.from_dict(inc.to_dict()) == inc
    assert ConsistencyProof.from_dict(con.to_dict()) == con
    for bad in (
        {"leaf_index": 1, "tree_size": 2},
        {"leaf_index": 1, "tree_size": 2, "path": ["zz"]},
    ):
        with pytest.raises(ValidationError):
            InclusionProof.from_dict(bad)
