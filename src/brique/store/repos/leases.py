"""The leader lease row: claim a new term, renew it as a fence, read the leader of record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from brique.domain.leadership import Lease
from brique.store.lease_tables import LeaseRow


def _to_domain(row: LeaseRow) -> Lease:
    return Lease(row.name, row.replica_id, row.term, row.since, row.renewed_at)


def claim(session: Session, name: str, replica_id: str, now: datetime) -> Lease:
    """Start a new term for `replica_id`. The row lock waits for any transaction of the previous
    leader that renewed the lease (its fence) to end, so no write of the old term lands after this."""
    row = session.scalar(select(LeaseRow).where(LeaseRow.name == name).with_for_update())
    if row is None:
        row = LeaseRow(name=name, replica_id=replica_id, term=1, since=now, renewed_at=now)
        session.add(row)
    else:
        row.replica_id, row.term, row.since, row.renewed_at = replica_id, row.term + 1, now, now
    session.flush()
    return _to_domain(row)


def renew(session: Session, name: str, term: int, now: datetime) -> bool:
    """True while `term` is still the lease's; the row stays locked until the caller's commit."""
    q = update(LeaseRow).where(LeaseRow.name == name, LeaseRow.term == term).values(renewed_at=now)
    return session.execute(q.execution_options(synchronize_session=False)).rowcount == 1


def current(session: Session, name: str) -> Lease | None:
    row = session.get(LeaseRow, name)
    return _to_domain(row) if row is not None else None
