"""Capacity reservations: rows <-> domain `Reservation`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from brique.domain.reservations import Reservation, ReservationState
from brique.store.commerce_tables import ReservationRow


def row_to_domain(row: ReservationRow) -> Reservation:
    return Reservation(row.id, row.org_id, row.site_id, row.starts_at, row.ends_at, row.gpus, tuple(row.racks),
                       ReservationState(row.state), row.requested_by, row.approved_by)  # fmt: skip


def add(session: Session, r: Reservation, at: datetime) -> Reservation:
    session.add(ReservationRow(id=r.id, org_id=r.org_id, site_id=r.site, gpus=r.gpus, racks=list(r.racks),
                               starts_at=r.starts_at, ends_at=r.ends_at, state=r.state.value,
                               requested_by=r.requested_by, approved_by=r.approved_by, created_at=at,
                               updated_at=at))  # fmt: skip
    session.flush()
    return r


def get(session: Session, reservation_id: str, lock: bool = False) -> Reservation | None:
    q = select(ReservationRow).where(ReservationRow.id == reservation_id)
    row = session.scalars(q.with_for_update() if lock else q).first()
    return None if row is None else row_to_domain(row)


def set_state(session: Session, r: Reservation, state: ReservationState, by: str | None, at: datetime) -> None:
    row = session.get(ReservationRow, r.id)
    assert row is not None
    row.state, row.updated_at = state.value, at
    if state is ReservationState.APPROVED:
        row.approved_by = by


def listing(session: Session, org_id: str | None = None, include_cancelled: bool = False) -> list[Reservation]:
    q = select(ReservationRow).order_by(ReservationRow.starts_at, ReservationRow.id)
    if org_id is not None:
        q = q.where(ReservationRow.org_id == org_id)
    if not include_cancelled:
        q = q.where(ReservationRow.state != ReservationState.CANCELLED.value)
    return [row_to_domain(r) for r in session.scalars(q)]


def approved_in_site(session: Session, site_id: str, start: datetime, end: datetime) -> list[Reservation]:
    q = select(ReservationRow).where(ReservationRow.site_id == site_id,
                                     ReservationRow.state == ReservationState.APPROVED.value,
                                     ReservationRow.starts_at < end, ReservationRow.ends_at > start)  # fmt: skip
    return [row_to_domain(r) for r in session.scalars(q.with_for_update())]


def live(session: Session, now: datetime) -> list[Reservation]:
    """Approved reservations not over at `now` (what the scheduler holds)."""
    q = (select(ReservationRow).where(ReservationRow.state == ReservationState.APPROVED.value,
                                      ReservationRow.ends_at > now)
         .order_by(ReservationRow.starts_at, ReservationRow.id))  # fmt: skip
    return [row_to_domain(r) for r in session.scalars(q)]


def for_org_between(session: Session, org_id: str, start: datetime, end: datetime) -> list[Reservation]:
    q = select(ReservationRow).where(ReservationRow.org_id == org_id,
                                     ReservationRow.state == ReservationState.APPROVED.value,
                                     ReservationRow.starts_at < end, ReservationRow.ends_at > start)  # fmt: skip
    return [row_to_domain(r) for r in session.scalars(q)]
