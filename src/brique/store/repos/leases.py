"""The leader lease row: claim a new term, renew it as a fence, read the leader of record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update
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


# every cycle fences with it: built once, run on the connection (no ORM execution path)
_LEASES = LeaseRow.__table__
_RENEW = (update(_LEASES).where(_LEASES.c.name == bindparam("_name"), _LEASES.c.term == bindparam("_term"))
          .values(renewed_at=bindparam("_at")))  # fmt: skip


def renew(session: Session, name: str, term: int, now: datetime) -> bool:
    """True while `term` is still the lease's; the row stays locked until the caller's commit."""
    params = {"_name": name, "_term": term, "_at": now}
    return session.connection().execute(_RENEW, params).rowcount == 1  # type: ignore[attr-defined]


def current(session: Session, name: str) -> Lease | None:
    row = session.get(LeaseRow, name)
    return _to_domain(row) if row is not None else None
