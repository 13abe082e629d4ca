"""The audit log: a hash-chained, append-only transparency log (RFC 9162 style) with signed tree heads.

Appends serialize on the single `audit_head` row: the first statement of an append is an
UPDATE of that row, which takes the write lock (SQLite) or the row lock (PostgreSQL) before
the head is read, so two appends can never fork the chain.

Every `checkpoint` signs a tree head (size, Merkle root, time, key id) with the platform key and
also writes it to a file outside the database (`head_file`): an insider who rewrites, truncates or
restores the database cannot make that file agree, and the server refuses to sign a tree that does
not extend it. Witnesses (`brique audit witness`) keep their own copy of the last head they saw.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.crypto.keys import PlatformKeys, PublishedKey
from brique.crypto.signing import verify
from brique.domain import merkle
from brique.domain.audit import (
    GENESIS,
    PURGED,
    AuditRecord,
    ChainCheck,
    TreeHead,
    chain,
    leaf_of,
    verify_chain,
)
from brique.domain.tenancy import Action, Principal, Role
from brique.errors import (
    AuditLogInconsistent,
    Conflict,
    InvalidInput,
    NotFound,
    OperatorAdminOnly,
    OperatorOnly,
)
from brique.services.authz import require
from brique.store.db import Database
from brique.store.repos import audit as audit_repo
from brique.store.repos import tenancy as tenancy_repo

PAGE = 5000
EXPORT_FORMAT = "brique-audit-export/2"
log = logging.getLogger("brique.audit")


@dataclass(frozen=True, slots=True)
class Entry:
    """What a caller records; the log adds seq, time and hashes."""

    actor: str
    org_id: str | None
    action: str
    object: str
    outcome: str = "ok"
    request_id: str | None = None
    site: str | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Verification:
    chain: ChainCheck
    checkpoints_ok: bool
    checkpoint_problem: str
    head_ok: bool
    tree_size: int = 0
    signed_heads: int = 0

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.checkpoints_ok and self.head_ok


class AuditLog:
    def __init__(self, db: Database, clock: Clock, signer: PlatformKeys, retention_days: int = 190,
                 head_file: Path | None = None) -> None:  # fmt: skip
        self.db = db
        self.clock = clock
        self.signer = signer
        self.retention_days = retention_days
        self.head_file = head_file

    # -- append ---------------------------------------------------------------------------------

    def append(self, session: Session, entry: Entry) -> AuditRecord:
        """Append inside the caller's transaction (the record commits or rolls back with its cause)."""
        return self.append_many(session, [entry])[0]

    def append_many(self, session: Session, entries: list[Entry]) -> list[AuditRecord]:
        """Append several records under one lock of the head, with one multi-row insert."""
        if not entries:
            return []
        seq, prev = audit_repo.lock_head(session)  # takes the write/row lock
        at = self.clock.now().isoformat(timespec="microseconds")
        records = []
        for e in entries:
            seq += 1
            record = chain(AuditRecord(  # fields cut to their column widths: an audit write never fails on length
                seq=seq, at=at, actor=e.actor[:64], org_id=e.org_id, action=e.action[:64], object=e.object[:500],
                request_id=e.request_id[:64] if e.request_id else None, outcome=e.outcome[:64],
                site=e.site[:63] if e.site else None, details=e.details or {}, prev_hash=prev,
            ))  # fmt: skip
            records.append(record)
            prev = record.hash
        audit_repo.append(session, records)
        return records

    def record(self, entry: Entry) -> AuditRecord:
        with self.db.transaction() as s:
            return self.append(s, entry)

    # -- signed tree heads ----------------------------------------------------------------------

    def checkpoint(self) -> TreeHead | None:
        """Sign a tree head over the whole log (None if this size is already signed, or if refused)."""
        th, problem = self._sign()
        if problem:
            log.error("audit: not signing: %s", problem)
        return th

    def _sign(self) -> tuple[TreeHead | None, str]:
        """Refuses (signs nothing, says why) when the log does not extend the last head this server
        signed, so that a rewritten or restored database never gets a fresh signature."""
        with self.db.transaction() as s:
            size = audit_repo.size(s)
            if size == 0:
                return None, ""
            try:
                leaves = _leaves(s, size)
            except Conflict as exc:
                return None, exc.message
            problem = self._against_head_file(merkle.Tree(leaves))
            if problem or audit_repo.is_signed(s, size):
                return None, problem
            th = TreeHead(len(leaves), merkle.root(leaves).hex(), self.clock.now().isoformat(timespec="seconds"),
                          self.signer.key_id)  # fmt: skip
            th = TreeHead(th.size, th.root, th.timestamp, th.key_id, self.signer.sign(th.signed()))
            audit_repo.add_checkpoint(s, th, self.signer.public_key)
        self._save_head_file(th)
        return th, ""

    def tree_head(self) -> TreeHead:
        """The latest signed tree head (signing the current size first); refuses on an inconsistent log."""
        _, problem = self._sign()
        if problem:
            raise AuditLogInconsistent(f"the audit log cannot be signed: {problem}")
        with self.db.transaction() as s:
            th = audit_repo.latest_checkpoint(s)
            if th is None:
                raise NotFound("the audit log has no signed tree head yet")
            return th

    def consistency(self, first: int, second: int) -> list[str]:
        """RFC 9162 consistency proof: the log at `first` records is a prefix of the log at `second`."""
        with self.db.transaction() as s:
            size = audit_repo.size(s)
            if not 0 < first <= second <= size:
                raise InvalidInput(f"need 0 < first <= second <= {size} (the log's size)", field="first")
            return [h.hex() for h in merkle.Tree(_leaves(s, second)).consistency(first)]

    def inclusion(self, seq: int, size: int) -> list[str]:
        """RFC 9162 inclusion proof of record `seq` (leaf seq - 1) in the tree of `size` records."""
        with self.db.transaction() as s:
            if not 0 < seq <= size <= audit_repo.size(s):
                raise InvalidInput("need 0 < seq <= size <= the log's size", field="seq")
            return [h.hex() for h in merkle.Tree(_leaves(s, size)).inclusion(seq - 1)]

    def rotate_key(self, who: Principal) -> PublishedKey:
        """Rotate the platform signing key (operator-admin): the log's head is signed with the old key
        first, then with the new one, so the hand-over itself is in a signed head."""
        if who.role is not Role.OPERATOR_ADMIN:
            raise OperatorAdminOnly("only an operator-admin rotates the platform key")
        self.checkpoint()
        old = self.signer.key_id
        key = self.signer.rotate(self.clock.now())
        self.record(Entry(who.user_id, None, "platform.key_rotated", key.key_id, details={"retired": old}))
        self.checkpoint()
        return key

    # -- verify ---------------------------------------------------------------------------------

    def verify(self, who: Principal | None = None) -> Verification:
        """The whole log, as the server sees it: chain links and hashes, every signed head, the head file."""
        if who is not None:
            require(who, Action.ORG_READ)
            if not who.is_operator:
                raise OperatorOnly("the whole chain is verified by operators; tenants use their export")  # fmt: skip
        cutoff = self._cutoff(self.clock.now())
        leaves: list[bytes] = []
        with self.db.transaction() as s:
            head_seq, head_hash = audit_repo.head(s) or (0, GENESIS)
            records = _Collected(self._records(s, 0), leaves, cutoff)
            result = verify_chain(records, 0, GENESIS)
            head_ok = not result.ok or (result.head_seq == head_seq and result.head_hash == head_hash)
            heads = audit_repo.checkpoints(s)
        if result.ok and records.problem:
            result = ChainCheck(False, result.checked, records.bad_seq, records.problem, result.head_seq,
                                result.head_hash)  # fmt: skip
        if result.ok and not head_ok:
            result = ChainCheck(False, result.checked, result.head_seq + 1,
                                f"records after {result.head_seq} are missing (the head says {head_seq})",
                                result.head_seq, result.head_hash)  # fmt: skip
        tree = merkle.Tree(leaves)
        problem = self._check_heads(heads, tree) or self._against_head_file(tree)
        return Verification(result, not problem, problem, head_ok, tree.size, len(heads))

    def _check_heads(self, heads: list[TreeHead], tree: merkle.Tree) -> str:
        for th in heads:
            key = self.signer.public_key_for(th.key_id)
            if key is None or not verify(key, th.signed(), th.signature):
                return f"the signed tree head at size {th.size} has an invalid signature (or an unknown key)"
            if th.size > tree.size:
                return (f"the log was truncated: a signed tree head covers {th.size} records, "
                        f"the database holds {tree.size}")  # fmt: skip
            if tree.root(th.size).hex() != th.root:
                return f"records 1..{th.size} differ from the signed tree head at size {th.size} (rewritten)"
        return ""

    def _against_head_file(self, tree: merkle.Tree) -> str:
        """Compare with the last head this server signed, kept outside the database."""
        if self.head_file is None or not self.head_file.exists():
            return ""
        last = TreeHead.from_doc(json.loads(self.head_file.read_text()))
        if last.size > tree.size:
            return (f"ROLLBACK: the last signed tree head ({last.describe()}) covers more records than the "
                    f"database holds ({tree.size}): records deleted or an older database restored")  # fmt: skip
        if tree.root(last.size).hex() != last.root:
            return (f"FORK: records 1..{last.size} no longer match the last signed tree head ({last.describe()}): "
                    "history was rewritten or another database restored")  # fmt: skip
        return ""

    def _save_head_file(self, th: TreeHead) -> None:
        if self.head_file is None:
            return
        self.head_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.head_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(th.to_doc()))
        os.replace(tmp, self.head_file)

    @staticmethod
    def _records(s: Session, after: int) -> Iterator[AuditRecord]:
        last = after
        while True:
            page = audit_repo.records_after(s, last, PAGE)
            if not page:
                return
            yield from page
            last = page[-1].seq

    # -- export ---------------------------------------------------------------------------------

    def export(self, who: Principal, org_ref: str | None) -> dict[str, Any]:
        """An org's records with inclusion proofs against a signed tree head: verifiable offline.

        Operators are blind by default: they get the same proofs over hashes only (seq, time, hash),
        and the redacted read is itself audited."""
        require(who, Action.ORG_READ)
        org_ref = org_ref or who.org_id
        if org_ref is None:
            raise InvalidInput("operators name the organization (org)", field="org")
        with self.db.transaction() as s:
            org = tenancy_repo.find_org(s, org_ref)
        if org is None or not (who.is_operator or who.org_id == org.id):
            raise NotFound(f"organization '{org_ref}' not found", field="org")
        if who.is_operator:
            self.record(Entry(who.user_id, org.id, "audit.export", org.id, outcome="redacted",
                              details={"reason": "operators see hashes, not tenant contents"}))  # fmt: skip
        th = self.tree_head()
        with self.db.transaction() as s:
            tree = merkle.Tree(_leaves(s, th.size))
            records = [_export_doc(r, who.is_operator) for r in audit_repo.for_org(s, org.id, th.size)]
        for doc in records:
            doc["inclusion"] = [h.hex() for h in tree.inclusion(doc["seq"] - 1, th.size)]
        return {"format": EXPORT_FORMAT, "org_id": org.id, "redacted": who.is_operator,
                "exported_at": self.clock.now().isoformat(timespec="seconds"), "tree_head": th.to_doc(),
                "records": records}  # fmt: skip

    # -- retention ------------------------------------------------------------------------------

    def purge(self, now: datetime | None = None) -> int:
        """Erase the contents of records older than the retention period; seq, time and hashes stay,
        so the Merkle tree, the chain and every signed tree head stay verifiable."""
        cutoff = self._cutoff(now or self.clock.now())
        with self.db.transaction() as s:
            return audit_repo.purge_before(s, cutoff)

    def _cutoff(self, now: datetime) -> str:
        return (now - timedelta(days=self.retention_days)).isoformat(timespec="microseconds")


class _Collected:
    """Records passed through to the chain check, gathering leaves and retention problems on the way."""

    def __init__(self, records: Iterator[AuditRecord], leaves: list[bytes], cutoff: str) -> None:
        self.records, self.leaves, self.cutoff = records, leaves, cutoff
        self.problem: str = ""
        self.bad_seq: int | None = None
        self._live_seen = False

    def __iter__(self) -> Iterator[AuditRecord]:
        for r in self.records:
            self.leaves.append(leaf_of(r.hash))
            if r.action == PURGED and not self.problem and (self._live_seen or r.at >= self.cutoff):
                self.problem, self.bad_seq = (f"record {r.seq}'s contents were erased before its retention "
                                              "period ended (retention only erases the oldest records)"), r.seq  # fmt: skip
            self._live_seen = self._live_seen or r.action != PURGED
            yield r


def _leaves(s: Session, size: int) -> list[bytes]:
    """Leaf hashes of records 1..size; a missing record makes every proof impossible, so it is an error."""
    out: list[bytes] = []
    for seq, h in audit_repo.hashes(s, size):
        if seq != len(out) + 1:
            raise InvalidInput(
                f"audit record {len(out) + 1} is missing: the log is broken (run `brique audit verify`)"
            )
        out.append(leaf_of(h))
    return out


def _fields(r: AuditRecord) -> dict[str, Any]:
    return {f: getattr(r, f) for f in AuditRecord.__slots__}  # type: ignore[attr-defined]


def _export_doc(r: AuditRecord, redacted: bool) -> dict[str, Any]:
    return {"seq": r.seq, "at": r.at, "hash": r.hash} if redacted else _fields(r)


class CheckpointTimer:
    """Signs the chain head at most every `every_s` seconds (run from the scheduler loop) and purges old records daily."""

    def __init__(self, audit: AuditLog, every_s: float) -> None:
        self.audit = audit
        self.every_s = every_s
        self._last_sign: datetime | None = None
        self._last_purge: datetime | None = None

    def maybe_checkpoint(self) -> None:
        now = self.audit.clock.now()
        if self._last_sign is None or (now - self._last_sign).total_seconds() >= self.every_s:
            self.audit.checkpoint()
            self._last_sign = now
        if self._last_purge is None or now - self._last_purge >= timedelta(days=1):
            self.audit.purge(now)
            self._last_purge = now
