"""Issued invoices and credit notes (numbered, Factur-X) and customers' billing profiles."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from brique.api.deps import Caller, services
from brique.domain.einvoice import Party
from brique.domain.invoice_html import render_issued_html
from brique.schemas.invoices import (
    BillingProfileRequest,
    CreditNoteRequest,
    IssuedInvoiceResponse,
    PartyModel,
)
from brique.services.einvoice_pdf import facturx_pdf
from brique.services.invoicing import InvoicingService

router = APIRouter(tags=["invoices"])
FILES = {200: {"content": {"text/html": {}, "application/pdf": {}}}}


def invoicing_service(request: Request) -> InvoicingService:
    return services(request).invoicing


Invoicing = Annotated[InvoicingService, Depends(invoicing_service)]
Out = IssuedInvoiceResponse


@router.post("/v1/orgs/{org}/invoices/{month}/issue", operation_id="issueInvoice", status_code=201)
def issue_invoice(org: str, month: str, who: Caller, svc: Invoicing) -> Out:
    return Out.from_domain(svc.issue(who, org, month))


@router.get("/v1/orgs/{org}/issued-invoices", operation_id="listIssuedInvoices")
def list_issued(org: str, who: Caller, svc: Invoicing) -> list[Out]:
    return [Out.from_domain(d) for d in svc.list(who, org)]


@router.get("/v1/invoices/{number}", operation_id="getIssuedInvoice", response_model=Out, responses=FILES)
def get_issued(
    number: str, who: Caller, svc: Invoicing,
    format: Annotated[Literal["json", "html", "facturx"], Query(description="json, html, or a Factur-X PDF")] = "json",
) -> Out | Response:  # fmt: skip
    doc = svc.get(who, number)
    if format == "html":
        return Response(render_issued_html(doc), media_type="text/html; charset=utf-8")
    if format == "facturx":
        headers = {"Content-Disposition": f'attachment; filename="{doc.number}.pdf"'}
        return Response(facturx_pdf(doc), media_type="application/pdf", headers=headers)
    return Out.from_domain(doc)


@router.post("/v1/invoices/{number}/credit-note", operation_id="creditInvoice", status_code=201)
def credit_invoice(number: str, body: CreditNoteRequest, who: Caller, svc: Invoicing) -> Out:
    return Out.from_domain(svc.credit(who, number, body.reason))


@router.put("/v1/orgs/{org}/billing-profile", operation_id="setBillingProfile")
def set_profile(org: str, body: BillingProfileRequest, who: Caller, svc: Invoicing) -> PartyModel:
    p = Party(body.legal_name, "", body.vat_id, body.legal_id, body.address, body.postcode, body.city)
    return PartyModel.from_domain(svc.set_profile(who, org, p))


@router.get("/v1/orgs/{org}/billing-profile", operation_id="getBillingProfile")
def get_profile(org: str, who: Caller, svc: Invoicing) -> PartyModel:
    return PartyModel.from_domain(svc.profile(who, org))
