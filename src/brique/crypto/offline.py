"""Offline verification with pinned keys: signed tree heads, audit exports, signed documents.

Everything here trusts only the keys the caller pinned (`brique trust fetch`, or `--public-key`),
never a key carried inside the document it checks: a document re-signed with another key fails.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from brique.crypto.signing import key_id_of, verify, verify_envelope
from brique.domain import merkle
from brique.domain.audit import PURGED, AuditRecord, TreeHead, leaf_of, record_hash


class Untrusted(ValueError):
    """The document is not signed by a pinned key, or does not verify."""


def check_tree_head(th: TreeHead, pinned: Sequence[str]) -> None:
    """A tree head signed by a pinned key (pinned: base64 public keys; fingerprints cannot check heads)."""
    key = next((k for k in pinned if _is_key(k) and key_id_of(k) == th.key_id), None)
    if key is None:
        raise Untrusted(f"the tree head is signed by key {th.key_id}, which is not pinned")
    if not verify(key, th.signed(), th.signature):
        raise Untrusted(f"the tree head's signature is invalid ({th.describe()})")


def check_envelope(doc: dict[str, Any], pinned: Sequence[str]) -> str:
    ok, why = verify_envelope(doc, pinned)
    if not ok:
        raise Untrusted(why)
    return why


def check_export(doc: dict[str, Any], pinned: Sequence[str]) -> str:
    """Each record's hash, and its inclusion in the log under a tree head signed by a pinned key."""
    if doc.get("format") != "brique-audit-export/2":
        raise Untrusted("not a brique-audit-export/2 document")
    th = TreeHead.from_doc(doc["tree_head"])
    check_tree_head(th, pinned)
    root = bytes.fromhex(th.root)
    for r in doc["records"]:
        fields = {k: v for k, v in r.items() if k != "inclusion"}
        if (
            "actor" in fields
            and fields["action"] != PURGED
            and record_hash(AuditRecord(**fields)) != r["hash"]
        ):
            raise Untrusted(f"record {r['seq']} was modified (its hash does not match)")
        proof = [bytes.fromhex(h) for h in r["inclusion"]]
        if not merkle.verify_inclusion(r["seq"] - 1, th.size, leaf_of(r["hash"]), proof, root):
            raise Untrusted(f"record {r['seq']} is not in the signed log (its inclusion proof fails)")
    what = "hashes (redacted)" if doc.get("redacted") else "records"
    return (f"export OK: {len(doc['records'])} {what} of {doc['org_id']}, each included in the log of "
            f"{th.size} records signed by pinned key {th.key_id} at {th.timestamp}")  # fmt: skip


def _is_key(value: str) -> bool:
    """A base64 raw public key (a fingerprint is 64 hex digits and names a key without holding it)."""
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except ValueError:
        return False
