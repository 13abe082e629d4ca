"""The audit Merkle tree against RFC 9162's recursive definitions, for every small tree size."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest

from brique.domain import merkle


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    """RFC 9162 2.1.1, written as literally as possible: the reference the module is held to."""
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = 1
    while k * 2 < len(d):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


# RFC 9162 2.1.3.1 and 2.1.4.1 as written (PATH and PROOF over slices), the reference for Tree.
def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1: the audit path of leaf `index`."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)}")
    return _path(index, leaves)


def _path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) <= 1:
        return []
    k = _split(len(d))
    if m < k:
        return [*_path(m, d[:k]), merkle.root(d[k:])]
    return [*_path(m - k, d[k:]), merkle.root(d[:k])]


def consistency_proof(first: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 2.1.4.1: the tree of `first` leaves is a prefix of this one."""
    if not 0 < first <= len(leaves):
        raise ValueError(f"no consistency proof from size {first} to size {len(leaves)}")
    return _subproof(first, leaves, True)


def _subproof(m: int, d: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if whole else [merkle.root(d)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, d[:k], whole), merkle.root(d[k:])]
    return [*_subproof(m - k, d[k:], False), merkle.root(d[:k])]


LEAVES = [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(33)]


def test_empty_tree_and_the_leaf_and_node_prefixes() -> None:
    assert merkle.root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


@pytest.mark.parametrize("n", range(1, 34))
def test_roots_and_every_inclusion_proof(n: int) -> None:
    leaves = LEAVES[:n]
    top = merkle.root(leaves)
    assert top == mth(leaves)
    for i in range(n):
        proof = merkle.Tree(leaves).inclusion(i)
        assert merkle.verify_inclusion(i, n, leaves[i], proof, top)
        other = leaves[(i + 1) % n] if n > 1 else merkle.leaf_hash(b"x")
        assert not merkle.verify_inclusion(i, n, other, proof, top)


@pytest.mark.parametrize("n", range(1, 34))
def test_every_consistency_proof_and_forks_fail(n: int) -> None:
    leaves = LEAVES[:n]
    top = merkle.root(leaves)
    for m in range(1, n + 1):
        proof = merkle.Tree(leaves).consistency(m)
        old = merkle.root(leaves[:m])
        assert merkle.verify_consistency(m, n, old, top, proof), (m, n)
        forked = merkle.root([merkle.leaf_hash(b"forged"), *leaves[1:m]])
        assert not merkle.verify_consistency(m, n, forked, top, proof)
        if m < n:
            assert not merkle.verify_consistency(m, n, old, merkle.root(leaves[: n - 1]), proof)
    assert not merkle.verify_consistency(n, n - 1, top, top, [])  # a shorter log is no extension


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 33])
def test_the_memoized_tree_gives_the_same_roots_and_proofs(n: int) -> None:
    tree = merkle.Tree(LEAVES[:n])
    for size in range(1, n + 1):
        assert tree.root(size) == merkle.root(LEAVES[:size])
        for i in range(size):
            assert tree.inclusion(i, size) == inclusion_proof(i, LEAVES[:size])
        for m in range(1, size + 1):
            assert tree.consistency(m, size) == consistency_proof(m, LEAVES[:size])


def test_roots_and_proofs_agree_with_an_independent_implementation() -> None:
    """pymerkle (RFC 9162 hashing, maintained on PyPI) computes the same tree heads, and our inclusion
    and consistency proofs verify against its roots: the hashing is the RFC's, not ours."""
    from pymerkle import InmemoryTree

    entries = [hashlib.sha256(str(i).encode()).digest() for i in range(70)]
    theirs = InmemoryTree(algorithm="sha256")
    for e in entries:
        theirs.append_entry(e)
    ours = merkle.Tree([merkle.leaf_hash(e) for e in entries])
    for size in range(1, 71):
        root = theirs.get_root(size)
        assert ours.root(size) == root, size
        for index in {0, size // 2, size - 1}:
            proof = ours.inclusion(index, size)
            assert merkle.verify_inclusion(index, size, merkle.leaf_hash(entries[index]), proof, root)
        for first in {1, size // 3 or 1, size}:
            assert merkle.verify_consistency(
                first, size, theirs.get_root(first), root, ours.consistency(first, size)
            )
