"""Capacity reservations: book a window on N GPUs or N racks of a site (or of a country).

Who may: an operator creates a reservation (approved at once) or approves a tenant's request; a
tenant admin requests one for its org (it holds nothing until approved) and may cancel its own.
Every booking is checked against the approved reservations it overlaps and refused with the
reason when it does not fit. Approved reservations are fed to the scheduler every cycle
(`live`), which holds their capacity; billing charges reserved capacity whether used or not.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.domain.fleet import Fleet, Site
from brique.domain.reservations import Reservation, ReservationState, conflict, free_racks
from brique.domain.tenancy import Action, Principal, Role
from brique.errors import InvalidInput, NotFound, PermissionDenied, ReservationConflict
from brique.ids import new_id
from brique.services.audit import AuditLog, Entry
from brique.services.authz import require
from brique.store.db import Database
from brique.store.repos import reservations as repo
from brique.store.repos import tenancy as tenancy_repo


@dataclass(frozen=True, slots=True)
class Booking:
    """What is asked: an org, GPUs or racks, a site or a country, a window."""

    org: str
    starts_at: datetime
    ends_at: datetime
    gpus: int = 0
    racks: int = 0
    site: str | None = None
    country: str | None = None


class ReservationService:
    def __init__(self, db: Database, clock: Clock, fleet: Fleet, audit: AuditLog | None = None) -> None:
        self.db = db
        self.clock = clock
        self.fleet = fleet
        self.audit = audit

    def create(self, who: Principal, b: Booking) -> Reservation:
        _check_booking(b, self.clock.now())
        state = ReservationState.APPROVED if who.is_operator else ReservationState.REQUESTED
        if who.is_operator:
            require(who, Action.CONTRACT_MANAGE)
        with self.db.transaction() as s:
            org = tenancy_repo.find_org(s, b.org)
            if org is None or not (who.is_operator or who.org_id == org.id):
                raise NotFound(f"organization '{b.org}' not found", field="org")
            if not who.is_operator and who.role is not Role.TENANT_ADMIN:
                raise PermissionDenied(f"role '{who.role}' may not request reservations (tenant-admin)")
            chosen = self._place(s, org.id, b, state, who.user_id)
            repo.add(s, chosen, self.clock.now())
            self._audit(s, who, chosen, "reservation.created")
            return chosen

    def approve(self, who: Principal, reservation_id: str) -> Reservation:
        require(who, Action.CONTRACT_MANAGE)
        with self.db.transaction() as s:
            r = self._get(s, who, reservation_id)
            if r.state is not ReservationState.REQUESTED:
                raise InvalidInput(f"reservation {r.id} is {r.state.value}, not requested", field="id")
            approved = dataclasses.replace(r, state=ReservationState.APPROVED, approved_by=who.user_id)
            self._check(s, approved, self._site(r.site))
            repo.set_state(s, r, ReservationState.APPROVED, who.user_id, self.clock.now())
            self._audit(s, who, approved, "reservation.approved")
            return approved

    def cancel(self, who: Principal, reservation_id: str) -> Reservation:
        with self.db.transaction() as s:
            r = self._get(s, who, reservation_id)
            if not who.is_operator and who.role is not Role.TENANT_ADMIN:
                raise PermissionDenied(f"role '{who.role}' may not cancel reservations (tenant-admin)")
            if r.state is ReservationState.CANCELLED:
                return r
            repo.set_state(s, r, ReservationState.CANCELLED, None, self.clock.now())
            done = dataclasses.replace(r, state=ReservationState.CANCELLED)
            self._audit(s, who, done, "reservation.cancelled")
            return done

    def list(self, who: Principal, org_ref: str | None = None, include_cancelled: bool = False) -> list[Reservation]:
        require(who, Action.CONTRACT_READ)
        with self.db.transaction() as s:
            org_id = None
            if org_ref is not None or not who.is_operator:
                org = tenancy_repo.find_org(s, org_ref or who.org_id or "")
                if org is None or not (who.is_operator or who.org_id == org.id):
                    raise NotFound(f"organization '{org_ref}' not found", field="org")
                org_id = org.id
            return repo.listing(s, org_id, include_cancelled)

    # -- helpers --------------------------------------------------------------------------------

    def _place(self, s: Session, org_id: str, b: Booking, state: ReservationState, by: str) -> Reservation:
        """The booking in the first candidate site where it fits; else the reason it fits nowhere."""
        reasons = []
        for site in self._candidates(b):
            others = repo.approved_in_site(s, site.id, b.starts_at, b.ends_at)
            racks = free_racks(site, b.racks, b.starts_at, b.ends_at, others) if b.racks else ()
            if b.racks and len(racks) < b.racks:
                reasons.append(f"site {site.id} has {len(racks)} racks free in that window, not {b.racks}")
                continue
            r = Reservation(new_id("rsv"), org_id, site.id, b.starts_at, b.ends_at, b.gpus, racks, state, by,
                            by if state is ReservationState.APPROVED else None)  # fmt: skip
            why = conflict(r, site, others)
            if why is None:
                return r
            reasons.append(why)
        raise ReservationConflict("the reservation does not fit: " + "; ".join(reasons), field="gpus")

    def _candidates(self, b: Booking) -> list[Site]:
        if b.site is not None:
            return [self._site(b.site)]
        found = sorted((x for x in self.fleet.sites if x.country == (b.country or "").upper()), key=lambda x: x.id)
        if not found:
            raise InvalidInput(f"no site in country '{b.country}'", field="country")
        return found

    def _site(self, site_id: str) -> Site:
        site = self.fleet.site(site_id)
        if site is None:
            raise InvalidInput(f"unknown site '{site_id}'", field="site")
        return site

    def _check(self, s: Session, r: Reservation, site: Site) -> None:
        why = conflict(r, site, repo.approved_in_site(s, site.id, r.starts_at, r.ends_at))
        if why is not None:
            raise ReservationConflict(f"reservation {r.id} does not fit: {why}", field="id")

    @staticmethod
    def _get(s: Session, who: Principal, reservation_id: str) -> Reservation:
        r = repo.get(s, reservation_id, lock=True)
        if r is None or not (who.is_operator or who.org_id == r.org_id):
            raise NotFound(f"reservation '{reservation_id}' not found", field="id")
        return r

    def _audit(self, s: Session, who: Principal, r: Reservation, action: str) -> None:
        if self.audit is not None:
            details = {"site": r.site, "gpus": r.gpus, "racks": list(r.racks), "from": r.starts_at.isoformat(),
                       "to": r.ends_at.isoformat(), "state": r.state.value}  # fmt: skip
            self.audit.append(s, Entry(who.user_id, r.org_id, action, r.id, site=r.site, details=details))


def _check_booking(b: Booking, now: datetime) -> None:
    if b.starts_at.tzinfo is None or b.ends_at.tzinfo is None:
        raise InvalidInput("times need a time zone (e.g. 2026-12-01T00:00:00Z)", field="from")
    if (b.gpus > 0) == (b.racks > 0):
        raise InvalidInput("give either --gpus N or --racks N (one of them, > 0)", field="gpus")
    if (b.site is None) == (b.country is None):
        raise InvalidInput("give either --site or --country", field="site")
    if b.ends_at <= b.starts_at:
        raise InvalidInput("'to' must be after 'from'", field="to")
    if b.ends_at <= now:
        raise InvalidInput("the window is already over", field="to")
