"""Invoices in the console: a month's invoice as a page, and the self-contained HTML document to keep."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from brique.api import deps
from brique.api.console.web import ConsoleRoute, SignedIn, page
from brique.domain.invoice_html import render_html
from brique.errors import InvalidInput

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# The downloaded invoice carries its own <style>; it may use that and nothing else.
INVOICE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"


def _months(now_year: int, now_month: int, count: int = 6) -> list[str]:
    out = []
    for i in range(count):
        y, m = divmod(now_year * 12 + now_month - 1 - i, 12)
        out.append(f"{y:04d}-{m + 1:02d}")
    return out


def _month(value: str | None, default: str) -> str:
    if value is None:
        return default
    if not MONTH.match(value):
        raise InvalidInput("must be a month YYYY-MM", field="month")
    return value


@router.get("/invoices", operation_id="consoleInvoice")
def invoice_page(request: Request, viewer: SignedIn, month: Annotated[str | None, Query(max_length=7)] = None,
                 org: Annotated[str | None, Query(max_length=100)] = None) -> Response:  # fmt: skip
    billing = deps.billing_service(request)
    now = billing.metering.clock.now()
    months = _months(now.year, now.month)
    chosen = _month(month, months[0])
    invoice = billing.invoice(viewer.who, org, chosen)
    return page(request, "invoice.html", viewer, invoice=invoice, months=months, month=chosen, org=org)


@router.get("/invoices/{month}.html", operation_id="consoleInvoiceDocument")
def invoice_document(request: Request, month: str, viewer: SignedIn,
                     org: Annotated[str | None, Query(max_length=100)] = None) -> Response:  # fmt: skip
    invoice = deps.billing_service(request).invoice(viewer.who, org, _month(month, month))
    name = f"brique-invoice-{invoice.org}-{invoice.month}.html"
    return Response(render_html(invoice), media_type="text/html; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Content-Security-Policy": INVOICE_CSP})  # fmt: skip
