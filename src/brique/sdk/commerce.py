"""SDK calls for capacity reservations, project governance and issued invoices, mixed into
`brique.sdk.Client`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brique.schemas.projects import ProjectGovernanceResponse
    from brique.schemas.reservations import ReservationResponse


class CommerceMixin:
    """Reservations and project governance (mixed into `Client`)."""

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

    def project_governance(self, org: str, project: str) -> ProjectGovernanceResponse:
        from brique.schemas.projects import ProjectGovernanceResponse

        return self._call("GET", f"/v1/orgs/{org}/projects/{project}/governance", ProjectGovernanceResponse)

    def set_project_governance(self, org: str, project: str, terms: dict[str, Any]) -> ProjectGovernanceResponse:
        """`terms`: max_gpus (None: no quota), weight, guaranteed_gpus."""
        from brique.schemas.projects import ProjectGovernanceRequest, ProjectGovernanceResponse

        body = ProjectGovernanceRequest.model_validate(terms)
        return self._call("PUT", f"/v1/orgs/{org}/projects/{project}/governance", ProjectGovernanceResponse, body)

    def set_project_member(self, org: str, project: str, user_id: str, role: str) -> ProjectGovernanceResponse:
        from brique.schemas.projects import ProjectGovernanceResponse, ProjectMemberRequest

        body = ProjectMemberRequest(user_id=user_id, role=role)  # type: ignore[arg-type]
        return self._call("PUT", f"/v1/orgs/{org}/projects/{project}/members", ProjectGovernanceResponse, body)

    def remove_project_member(self, org: str, project: str, user_id: str) -> ProjectGovernanceResponse:
        from brique.schemas.projects import ProjectGovernanceResponse

        path = f"/v1/orgs/{org}/projects/{project}/members/{user_id}"
        return self._call("DELETE", path, ProjectGovernanceResponse)
