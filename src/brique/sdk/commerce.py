"""SDK calls for capacity reservations, project governance and issued invoices, mixed into
`brique.sdk.Client`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brique.schemas.reservations import ReservationResponse


class CommerceMixin:
    """Reservations (mixed into `Client`)."""

    _call: Any

    def create_reservation(self, request: dict[str, Any]) -> ReservationResponse:
        """`request`: org, gpus or racks, site or country, from, to (ISO times with an offset)."""
        from brique.schemas.reservations import ReservationRequest, ReservationResponse

        body = ReservationRequest.model_validate(request)
        return self._call("POST", "/v1/reservations", ReservationResponse, body)

    def list_reservations(self, org: str | None = None, include_cancelled: bool = False) -> list[ReservationResponse]:
        from brique.schemas.reservations import ReservationResponse

        return self._call("GET", "/v1/reservations", list[ReservationResponse], org=org,
                          all=include_cancelled or None)  # fmt: skip

    def approve_reservation(self, reservation_id: str) -> ReservationResponse:
        from brique.schemas.reservations import ReservationResponse

        return self._call("POST", f"/v1/reservations/{reservation_id}/approve", ReservationResponse)

    def cancel_reservation(self, reservation_id: str) -> ReservationResponse:
        from brique.schemas.reservations import ReservationResponse

        return self._call("POST", f"/v1/reservations/{reservation_id}/cancel", ReservationResponse)
