"""The audit log: append hash-chained records, sign the head, verify, export, retain.

Appends serialize on the single `audit_head` row: the first statement of an append is an
UPDATE of that row, which takes the write lock (SQLite) or the row lock (PostgreSQL) before
the head is read, so two appends can never fork the chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.crypto.signing import Signer, verify
from brique.domain.audit import GENESIS, AuditRecord, ChainCheck, chain, verify_chain
from brique.domain.tenancy import Action, Principal
from brique.errors import InvalidInput, NotFound, OperatorOnly
from brique.services.authz import require
from brique.store.db import Database
from brique.store.repos import tenancy as tenancy_repo
from brique.store.tables import AuditCheckpointRow, AuditHeadRow, AuditRecordRow

PAGE = 5000


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

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.checkpoints_ok and self.head_ok


class AuditLog:
    def __init__(self, db: Database, clock: Clock, signer: Signer, retention_days: int = 190) -> None:
        self.db = db
        self.clock = clock
        self.signer = signer
        self.retention_days = retention_days

    # -- append ---------------------------------------------------------------------------------

    def append(self, session: Session, entry: Entry) -> AuditRecord:
        """Append inside the caller's transaction (the record commits or rolls back with its cause)."""
        return self.append_many(session, [entry])[0]

    def append_many(self, session: Session, entries: list[Entry]) -> list[AuditRecord]:
        """Append several records under one lock of the head, with one multi-row insert."""
        if not entries:
            return []
        lock = update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=AuditHeadRow.seq)
        session.execute(lock.execution_options(synchronize_session=False))  # takes the write/row lock
        head = session.get(AuditHeadRow, 1, populate_existing=True)
        if head is None:
            head = AuditHeadRow(id=1, seq=0, hash=GENESIS, anchor_seq=0, anchor_hash=GENESIS)
            session.add(head)
            session.flush()
        at = self.clock.now().isoformat(timespec="microseconds")
        records, seq, prev = [], head.seq, head.hash
        for e in entries:
            seq += 1
            record = chain(AuditRecord(  # fields cut to their column widths: an audit write never fails on length
                seq=seq, at=at, actor=e.actor[:64], org_id=e.org_id, action=e.action[:64], object=e.object[:500],
                request_id=e.request_id[:64] if e.request_id else None, outcome=e.outcome[:64],
                site=e.site[:63] if e.site else None, details=e.details or {}, prev_hash=prev,
            ))  # fmt: skip
            records.append(record)
            prev = record.hash
        session.execute(insert(AuditRecordRow), [_fields(r) for r in records])
        head.seq, head.hash = seq, prev
        session.flush()
        return records

    def record(self, entry: Entry) -> AuditRecord:
        with self.db.transaction() as s:
            return self.append(s, entry)

    # -- checkpoints ----------------------------------------------------------------------------

    def checkpoint(self) -> AuditCheckpointRow | None:
        """Sign the current head (no-op if it is already signed)."""
        with self.db.transaction() as s:
            head = s.get(AuditHeadRow, 1)
            if head is None or head.seq == 0 or s.get(AuditCheckpointRow, head.seq) is not None:
                return None
            at = self.clock.now().isoformat(timespec="seconds")
            doc = {"seq": head.seq, "hash": head.hash, "at": at}
            row = AuditCheckpointRow(seq=head.seq, hash=head.hash, at=at, key_id=self.signer.key_id,
                                     public_key=self.signer.public_key, signature=self.signer.sign(doc))  # fmt: skip
            s.add(row)
            return row

    # -- verify ---------------------------------------------------------------------------------

    def verify(self, who: Principal | None = None) -> Verification:
        if who is not None:
            require(who, Action.ORG_READ)
            if not who.is_operator:
                raise OperatorOnly("the whole chain is verified by operators; tenants use their export")  # fmt: skip
        with self.db.transaction() as s:
            head = s.get(AuditHeadRow, 1) or AuditHeadRow(id=1, seq=0, hash=GENESIS, anchor_seq=0,
                                                           anchor_hash=GENESIS)  # fmt: skip
            result = verify_chain(self._records(s, head.anchor_seq), head.anchor_seq, head.anchor_hash)
            head_ok = not result.ok or (result.head_seq == head.seq and result.head_hash == head.hash)
            cp_ok, cp_problem = self._check_checkpoints(s, head.anchor_seq)
        if result.ok and not head_ok:
            result = ChainCheck(False, result.checked, result.head_seq + 1,
                                f"records after {result.head_seq} are missing (the head says {head.seq})",
                                result.head_seq, result.head_hash)  # fmt: skip
        return Verification(result, cp_ok, cp_problem, head_ok)

    def _check_checkpoints(self, s: Session, anchor_seq: int) -> tuple[bool, str]:
        for cp in s.scalars(select(AuditCheckpointRow).where(AuditCheckpointRow.seq > anchor_seq)
                            .order_by(AuditCheckpointRow.seq)):  # fmt: skip
            if not verify(cp.public_key, {"seq": cp.seq, "hash": cp.hash, "at": cp.at}, cp.signature):
                return False, f"checkpoint at record {cp.seq} has an invalid signature"
            if cp.public_key != self.signer.public_key:
                return False, f"checkpoint at record {cp.seq} was signed by another key"
            rec = s.get(AuditRecordRow, cp.seq)
            if rec is None or rec.hash != cp.hash:
                return False, f"record {cp.seq} differs from the signed checkpoint (deleted or rewritten)"
        return True, ""

    @staticmethod
    def _records(s: Session, after: int) -> Iterator[AuditRecord]:
        last = after
        while True:
            rows = s.scalars(select(AuditRecordRow).where(AuditRecordRow.seq > last)
                             .order_by(AuditRecordRow.seq).limit(PAGE)).all()  # fmt: skip
            if not rows:
                return
            for row in rows:
                yield _to_record(row)
            last = rows[-1].seq

    # -- export ---------------------------------------------------------------------------------

    def export(self, who: Principal, org_ref: str | None) -> dict[str, Any]:
        """An org's records in full, other orgs' as hash stubs, and the signed head: verifiable offline."""
        require(who, Action.ORG_READ)
        org_ref = org_ref or who.org_id
        if org_ref is None:
            raise InvalidInput("operators name the organization (org)", field="org")
        with self.db.transaction() as s:
            org = tenancy_repo.find_org(s, org_ref)
        if org is None or not (who.is_operator or who.org_id == org.id):
            raise NotFound(f"organization '{org_ref}' not found", field="org")
        org_id = org.id
        self.checkpoint()
        with self.db.transaction() as s:
            head = s.get(AuditHeadRow, 1)
            records = [_export_doc(r, org_id) for r in self._records(s, head.anchor_seq if head else 0)]
            cp = s.scalars(
                select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq.desc()).limit(1)
            ).first()
        records = _trim_to_own(records)
        return {
            "format": "brique-audit-export/1", "org_id": org_id,
            "exported_at": self.clock.now().isoformat(timespec="seconds"),
            "anchor": {"seq": head.anchor_seq, "hash": head.anchor_hash} if head else None,
            "records": records,
            "checkpoint": None if cp is None else {"seq": cp.seq, "hash": cp.hash, "at": cp.at, "key_id": cp.key_id,
                                                   "public_key": cp.public_key, "signature": cp.signature},
        }  # fmt: skip

    # -- retention ------------------------------------------------------------------------------

    def purge(self, now: datetime | None = None) -> int:
        """Drop records older than the retention period; the chain stays verifiable from its anchor."""
        cutoff = ((now or self.clock.now()) - timedelta(days=self.retention_days)).isoformat(
            timespec="microseconds"
        )
        with self.db.transaction() as s:
            s.execute(update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=AuditHeadRow.seq))
            head = s.get(AuditHeadRow, 1)
            last = s.scalars(select(AuditRecordRow).where(AuditRecordRow.at < cutoff)
                             .order_by(AuditRecordRow.seq.desc()).limit(1)).first()  # fmt: skip
            if head is None or last is None:
                return 0
            count = s.execute(delete(AuditRecordRow).where(AuditRecordRow.seq <= last.seq)).rowcount  # type: ignore[attr-defined]
            s.execute(delete(AuditCheckpointRow).where(AuditCheckpointRow.seq <= last.seq))
            head.anchor_seq, head.anchor_hash = last.seq, last.hash
            return int(count)


def _fields(r: AuditRecord) -> dict[str, Any]:
    return {f: getattr(r, f) for f in AuditRecord.__slots__}  # type: ignore[attr-defined]


def _to_record(row: AuditRecordRow) -> AuditRecord:
    return AuditRecord(
        seq=row.seq, at=row.at, actor=row.actor, org_id=row.org_id, action=row.action, object=row.object,
        request_id=row.request_id, outcome=row.outcome, site=row.site, details=dict(row.details or {}),
        prev_hash=row.prev_hash, hash=row.hash,
    )  # fmt: skip


def _export_doc(r: AuditRecord, org_id: str) -> dict[str, Any]:
    if r.org_id == org_id:
        return _fields(r)
    return {"seq": r.seq, "prev_hash": r.prev_hash, "hash": r.hash}


def _trim_to_own(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep from the first own record to the end (stubs before it prove nothing about the org)."""
    records = list(records)
    first = next((i for i, d in enumerate(records) if "actor" in d), len(records))
    return records[max(0, first - 1) :]


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
