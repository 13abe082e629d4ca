"""Invoices per organization and month, as JSON or a self-contained HTML document."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from brique.api.deps import Billing, Caller
from brique.domain.invoice_html import render_html
from brique.domain.invoices import Invoice
from brique.schemas.billing import InvoiceLineResponse, InvoiceResponse

router = APIRouter(prefix="/v1/orgs", tags=["billing"])
HTML = {200: {"content": {"text/html": {}}, "description": "JSON, or HTML with format=html"}}


def invoice_to_response(inv: Invoice) -> InvoiceResponse:
    fp = inv.footprint
    lines = [
        InvoiceLineResponse(kind=x.kind, description=x.description, project=x.project, tier=x.tier, site=x.site,
                            gpu_seconds=x.gpu_seconds, gpu_hours=x.gpu_hours, unit_price=x.unit_price,
                            amount=x.amount, energy_kwh=x.footprint.facility_kwh, co2e_kg=x.footprint.co2e_kg)
        for x in inv.lines
    ]  # fmt: skip
    return InvoiceResponse(org=inv.org, country=inv.country, month=inv.month, currency=inv.currency, lines=lines,
                           subtotal=inv.subtotal, vat_country=inv.vat.country, vat_percent=inv.vat.percent,
                           vat_amount=inv.vat_amount, total=inv.total, energy_kwh=fp.facility_kwh,
                           co2e_kg=fp.co2e_kg, notes=list(inv.notes), contract_version=inv.contract_version)  # fmt: skip


@router.get(
    "/{org}/invoices/{month}", operation_id="getInvoice", response_model=InvoiceResponse, responses=HTML
)
def get_invoice(
    org: str, month: str, who: Caller, billing: Billing,
    format: Annotated[Literal["json", "html"], Query(description="json, or a readable html document")] = "json",
) -> InvoiceResponse | Response:  # fmt: skip
    inv = billing.invoice(who, org, month)
    if format == "html":
        return Response(render_html(inv), media_type="text/html; charset=utf-8")
    return invoice_to_response(inv)
