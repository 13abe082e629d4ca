"""The audit log's records, its head row and its signed tree heads (checkpoints)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from brique.domain.audit import GENESIS, PURGED, AuditRecord, TreeHead
from brique.store.repos import bulk
from brique.store.tables import AuditCheckpointRow, AuditHeadRow, AuditRecordRow


def record_row_to_domain(row: AuditRecordRow) -> AuditRecord:
    return AuditRecord(
        seq=row.seq, at=row.at, actor=row.actor, org_id=row.org_id, action=row.action, object=row.object,
        request_id=row.request_id, outcome=row.outcome, site=row.site, details=dict(row.details or {}),
        prev_hash=row.prev_hash, hash=row.hash,
    )  # fmt: skip


def checkpoint_row_to_domain(cp: AuditCheckpointRow) -> TreeHead:
    return TreeHead(cp.seq, cp.hash, cp.at, cp.key_id, cp.signature)


# -- the head ------------------------------------------------------------------------------------


# Built once (every submission appends): building a statement costs more than running it.
_LOCK_HEAD = (update(AuditHeadRow.__table__).where(AuditHeadRow.id == 1).values(seq=AuditHeadRow.seq)
              .returning(AuditHeadRow.seq, AuditHeadRow.hash))  # fmt: skip
_MOVE_HEAD = (update(AuditHeadRow.__table__).where(AuditHeadRow.id == 1)
              .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")))  # fmt: skip
_INSERT_RECORDS = insert(AuditRecordRow.__table__)


def lock_head(session: Session) -> tuple[int, str]:
    """Take the write lock (SQLite) or the row lock (PostgreSQL) on the head and read it in the same
    statement (creating it on first use): (seq, hash) of the last record."""
    row = session.connection().execute(_LOCK_HEAD).first()  # Core: no ORM bulk-update bookkeeping
    if row is not None:
        return row.seq, row.hash
    session.execute(insert(AuditHeadRow.__table__).values(id=1, seq=0, hash=GENESIS, anchor_seq=0,
                                                          anchor_hash=GENESIS))  # fmt: skip
    return 0, GENESIS


def head(session: Session) -> tuple[int, str] | None:
    """(seq, hash) of the last record, None before the first append."""
    row = session.get(AuditHeadRow, 1)
    return (row.seq, row.hash) if row else None


def size(session: Session) -> int:
    row = session.get(AuditHeadRow, 1)
    return row.seq if row else 0


# -- records -------------------------------------------------------------------------------------


def append(session: Session, records: list[AuditRecord]) -> None:
    """Insert records (one multi-row insert) and move the head, locked by `lock_head`, to the last one.
    Core statements (no unit of work on the submit path); a head row the session holds is expired."""
    conn = session.connection()  # Core on the session's connection: no ORM bulk bookkeeping
    rows = [_fields(r) for r in records]
    if bulk.copies(conn, rows):  # a cycle's placements, an array's tasks
        bulk.copy_rows(conn, AuditRecordRow.__table__, rows)
    else:
        conn.execute(_INSERT_RECORDS, rows[0] if len(rows) == 1 else rows)  # one row: no executemany
    conn.execute(_MOVE_HEAD, {"new_seq": records[-1].seq, "new_hash": records[-1].hash})
    held = session.identity_map.get(session.identity_key(AuditHeadRow, 1))
    if held is not None:
        session.expire(held)


def records_after(session: Session, after: int, limit: int) -> list[AuditRecord]:
    rows = session.scalars(select(AuditRecordRow).where(AuditRecordRow.seq > after)
                           .order_by(AuditRecordRow.seq).limit(limit)).all()  # fmt: skip
    return [record_row_to_domain(r) for r in rows]


def hashes(session: Session, size: int) -> list[tuple[int, str]]:
    """(seq, hash) of records 1..size, in order (a gap shows as a jump in seq)."""
    q = select(AuditRecordRow.seq, AuditRecordRow.hash).where(AuditRecordRow.seq <= size)
    return [(seq, h) for seq, h in session.execute(q.order_by(AuditRecordRow.seq))]


def for_org(session: Session, org_id: str, size: int) -> list[AuditRecord]:
    """An org's records among the first `size`, in order."""
    rows = session.scalars(select(AuditRecordRow).where(AuditRecordRow.org_id == org_id,
                                                        AuditRecordRow.seq <= size)
                           .order_by(AuditRecordRow.seq)).all()  # fmt: skip
    return [record_row_to_domain(r) for r in rows]


def actions_between(session: Session, org_id: str, action: str, since: str, until: str) -> list[AuditRecord]:
    """An org's records of one action with since <= at < until (times in the log's own ISO format)."""
    rows = session.scalars(select(AuditRecordRow).where(
        AuditRecordRow.org_id == org_id, AuditRecordRow.action == action,
        AuditRecordRow.at >= since, AuditRecordRow.at < until,
    ).order_by(AuditRecordRow.seq)).all()  # fmt: skip
    return [record_row_to_domain(r) for r in rows]


def purge_before(session: Session, cutoff: str) -> int:
    """Erase the contents of records older than `cutoff` (under the head's lock); returns how many."""
    session.execute(update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=AuditHeadRow.seq))
    done = session.execute(update(AuditRecordRow).where(AuditRecordRow.at < cutoff, AuditRecordRow.action != PURGED)
                           .values(actor="", org_id=None, action=PURGED, object="", request_id=None,
                                   outcome=PURGED, site=None, details={}))  # fmt: skip
    return int(done.rowcount)  # type: ignore[attr-defined]


# -- signed tree heads ---------------------------------------------------------------------------


def is_signed(session: Session, size: int) -> bool:
    return session.get(AuditCheckpointRow, size) is not None


def add_checkpoint(session: Session, th: TreeHead, public_key: str) -> None:
    session.add(AuditCheckpointRow(seq=th.size, hash=th.root, at=th.timestamp, key_id=th.key_id,
                                   public_key=public_key, signature=th.signature))  # fmt: skip


def latest_checkpoint(session: Session) -> TreeHead | None:
    cp = session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq.desc()).limit(1)).first()
    return checkpoint_row_to_domain(cp) if cp else None


def checkpoints(session: Session) -> list[TreeHead]:
    q = select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq)
    return [checkpoint_row_to_domain(cp) for cp in session.scalars(q)]


def _fields(r: AuditRecord) -> dict[str, Any]:
    return {f: getattr(r, f) for f in AuditRecord.__slots__}  # type: ignore[attr-defined]
