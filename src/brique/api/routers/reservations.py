"""Capacity reservations: operators book and approve, tenant admins request and cancel theirs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from brique.api.deps import Caller, services
from brique.schemas.reservations import ReservationRequest, ReservationResponse
from brique.services.reservations import Booking, ReservationService

router = APIRouter(prefix="/v1/reservations", tags=["reservations"])


def reservation_service(request: Request) -> ReservationService:
    return services(request).reservations


Reservations = Annotated[ReservationService, Depends(reservation_service)]


@router.post("", operation_id="createReservation", status_code=201)
def create_reservation(body: ReservationRequest, who: Caller, svc: Reservations) -> ReservationResponse:
    b = Booking(body.org, body.starts_at, body.ends_at, body.gpus, body.racks, body.site, body.country)
    return ReservationResponse.from_domain(svc.create(who, b))


@router.get("", operation_id="listReservations")
def list_reservations(
    who: Caller, svc: Reservations, org: Annotated[str | None, Query(max_length=100)] = None,
    all: Annotated[bool, Query(description="include cancelled ones")] = False,
) -> list[ReservationResponse]:  # fmt: skip
    return [ReservationResponse.from_domain(r) for r in svc.list(who, org, all)]


@router.post("/{reservation_id}/approve", operation_id="approveReservation")
def approve_reservation(reservation_id: str, who: Caller, svc: Reservations) -> ReservationResponse:
    return ReservationResponse.from_domain(svc.approve(who, reservation_id))


@router.post("/{reservation_id}/cancel", operation_id="cancelReservation")
def cancel_reservation(reservation_id: str, who: Caller, svc: Reservations) -> ReservationResponse:
    return ReservationResponse.from_domain(svc.cancel(who, reservation_id))
