"""The tamper-evident audit chain: how a record is hashed, and how a chain is checked.

Each record holds the SHA-256 of its predecessor (`prev_hash`) and its own `hash`, computed
over its canonical JSON (every field but `hash`). Editing a record changes its hash; deleting,
inserting or reordering records breaks a link; truncating the tail is caught by the signed
checkpoints of the chain head (see `services/audit.py`). `verify_chain` names the first bad record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: str  # ISO-8601 UTC, microseconds
    actor: str  # user id, `scheduler`, or `system`
    org_id: str | None
    action: str  # e.g. createJob, job.placed, job.preempted, lockbox.read
    object: str  # what it acted on: a path, a job id, ...
    request_id: str | None
    outcome: str  # e.g. 201, ok, denied
    site: str | None
    details: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS
    hash: str = ""

    def body(self) -> dict[str, Any]:
        # shallow, not asdict's deep copy: the same JSON, at a fraction of the cost (thousands per cycle)
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "hash"}


def record_hash(record: AuditRecord) -> str:
    canonical = json.dumps(record.body(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def chain(record: AuditRecord) -> AuditRecord:
    """The record with its `hash` filled in."""
    return replace(record, hash=record_hash(record))


@dataclass(frozen=True, slots=True)
class ChainCheck:
    ok: bool
    checked: int
    first_bad: int | None = None  # seq of the first record found bad
    problem: str = ""
    head_seq: int = 0
    head_hash: str = GENESIS


def verify_chain(
    records: Iterable[AuditRecord], anchor_seq: int = 0, anchor_hash: str = GENESIS
) -> ChainCheck:
    """Walk records in seq order from the anchor (the last record purged by retention, or genesis)."""
    expected_seq, prev, count = anchor_seq + 1, anchor_hash, 0
    for r in records:
        if r.seq != expected_seq:
            what = "missing (deleted)" if r.seq > expected_seq else "out of order or duplicated"
            return ChainCheck(
                False, count, expected_seq, f"record {expected_seq} is {what}", expected_seq - 1, prev
            )
        if r.prev_hash != prev:
            return ChainCheck(False, count, r.seq, f"record {r.seq} does not link to record {r.seq - 1} "
                                                   "(a record was deleted, inserted or reordered)",
                              r.seq - 1, prev)  # fmt: skip
        if record_hash(r) != r.hash:
            return ChainCheck(False, count, r.seq, f"record {r.seq} was modified (its hash does not match)",
                              r.seq - 1, prev)  # fmt: skip
        prev, expected_seq, count = r.hash, r.seq + 1, count + 1
    return ChainCheck(True, count, head_seq=expected_seq - 1, head_hash=prev)


def verify_links(records: Iterable[dict[str, Any]]) -> ChainCheck:
    """Check an exported slice: own records in full (re-hashed), others as (seq, prev_hash, hash) stubs."""
    prev: dict[str, Any] | None = None
    count = 0
    for doc in records:
        if prev is not None and (doc["seq"] != prev["seq"] + 1 or doc["prev_hash"] != prev["hash"]):
            return ChainCheck(
                False, count, doc["seq"], f"record {doc['seq']} does not link to record {prev['seq']}"
            )
        if "actor" in doc and record_hash(AuditRecord(**doc)) != doc["hash"]:
            return ChainCheck(
                False, count, doc["seq"], f"record {doc['seq']} was modified (its hash does not match)"
            )
        prev, count = doc, count + 1
    return ChainCheck(
        True, count, head_seq=prev["seq"] if prev else 0, head_hash=prev["hash"] if prev else GENESIS
    )
