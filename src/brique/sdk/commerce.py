"""SDK calls for capacity reservations, project governance and issued invoices, mixed into
`brique.sdk.Client`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from brique.sdk.errors import ConnectionFailed, api_error

if TYPE_CHECKING:
    from brique.schemas.invoices import IssuedInvoiceResponse, PartyModel
    from brique.schemas.projects import ProjectGovernanceResponse
    from brique.schemas.reservations import ReservationResponse


class CommerceMixin:
    """Reservations, project governance and issued invoices (mixed into `Client`)."""

    _call: Any
    _http: Any

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

    def issue_invoice(self, org: str, month: str) -> IssuedInvoiceResponse:
        """Issue the org's invoice for `month` (operators); issuing twice returns the same one."""
        from brique.schemas.invoices import IssuedInvoiceResponse

        return self._call("POST", f"/v1/orgs/{org}/invoices/{month}/issue", IssuedInvoiceResponse)

    def issued_invoices(self, org: str) -> list[IssuedInvoiceResponse]:
        from brique.schemas.invoices import IssuedInvoiceResponse

        return self._call("GET", f"/v1/orgs/{org}/issued-invoices", list[IssuedInvoiceResponse])

    def credit_invoice(self, number: str, reason: str) -> IssuedInvoiceResponse:
        from brique.schemas.invoices import CreditNoteRequest, IssuedInvoiceResponse

        body = CreditNoteRequest(reason=reason)
        return self._call("POST", f"/v1/invoices/{number}/credit-note", IssuedInvoiceResponse, body)

    def invoice_facturx(self, number: str) -> bytes:
        """The issued document as a Factur-X PDF."""
        try:
            response = self._http.get(f"/v1/invoices/{number}", params={"format": "facturx"})
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"cannot reach the Brique server ({exc})") from exc
        if response.status_code >= 400:
            try:
                err = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                err = {"code": "http_error", "message": f"HTTP {response.status_code}"}
            raise api_error(response.status_code, err["code"], err["message"], err.get("field"))
        return response.content

    def set_billing_profile(self, org: str, profile: dict[str, Any]) -> PartyModel:
        from brique.schemas.invoices import BillingProfileRequest, PartyModel

        body = BillingProfileRequest.model_validate(profile)
        return self._call("PUT", f"/v1/orgs/{org}/billing-profile", PartyModel, body)
