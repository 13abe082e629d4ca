"""A readable, self-contained HTML invoice (inline CSS, no scripts, no external resources)."""

from __future__ import annotations

from decimal import Decimal
from html import escape

from brique.domain.einvoice import IssuedDocument, Party
from brique.domain.invoices import Invoice, InvoiceLine

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
h1{font-size:1.5em}table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{padding:.35em .6em;border-bottom:1px solid #ddd;text-align:left}td.n,th.n{text-align:right}
tr.total td{font-weight:bold;border-top:2px solid #222}.muted{color:#666;font-size:.9em}"""


def _eur(x: Decimal) -> str:
    return f"EUR {x:,.2f}"


def _row(line: InvoiceLine) -> str:
    qty = "" if line.kind == "commitment" else f"{line.gpu_hours:,.4f}"
    cells = (escape(line.description), escape(line.kind), qty, f"{line.unit_price:,.4f}",
             f"{line.footprint.facility_kwh:,.1f}", f"{line.footprint.co2e_kg:,.1f}", _eur(line.amount))  # fmt: skip
    numeric = (False, False, True, True, True, True, True)
    return "<tr>" + "".join(f'<td{" class=n" if n else ""}>{c}</td>' for c, n in zip(cells, numeric, strict=True)) + "</tr>"


def render_html(inv: Invoice) -> str:
    head = ("<tr><th>Description</th><th>Kind</th><th class=n>GPU-hours</th><th class=n>Unit price (EUR)</th>"
            "<th class=n>Energy (kWh)</th><th class=n>kgCO2e</th><th class=n>Amount</th></tr>")  # fmt: skip
    rows = "\n".join(_row(x) for x in inv.lines) or "<tr><td colspan=7>No usage this month.</td></tr>"
    totals = (f"<tr><td colspan=6>Subtotal</td><td class=n>{_eur(inv.subtotal)}</td></tr>"
              f"<tr><td colspan=6>{escape(inv.vat.note)}</td><td class=n>{_eur(inv.vat_amount)}</td></tr>"
              f"<tr class=total><td colspan=6>Total</td><td class=n>{_eur(inv.total)}</td></tr>")  # fmt: skip
    fp = inv.footprint
    notes = "".join(f"<li>{escape(n)}</li>" for n in inv.notes)
    return (f"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>Invoice {escape(inv.org)} "
            f"{escape(inv.month)}</title><style>{STYLE}</style></head><body>\n"
            f"<h1>Invoice: {escape(inv.org)}, {escape(inv.month)}</h1>\n"
            f"<p>Customer country: {escape(inv.country)} &middot; Currency: {escape(inv.currency)}</p>\n"
            f"<table>{head}\n{rows}\n{totals}</table>\n"
            f"<p>Energy of this usage: {fp.facility_kwh:,.1f} kWh at the meter, {fp.co2e_kg:,.1f} kgCO2e.</p>\n"
            f"<ul class=muted>{notes}</ul>\n</body></html>\n")  # fmt: skip


def _party_html(side: str, p: Party) -> str:
    where = ", ".join(x for x in (p.address, f"{p.postcode} {p.city}".strip(), p.country) if x)
    ids = " &middot; ".join(escape(x) for x in (p.vat_id and f"VAT {p.vat_id}", p.legal_id and f"ID {p.legal_id}") if x)
    return f"<p><strong>{side}</strong>: {escape(p.name)}, {escape(where)}{' &middot; ' + ids if ids else ''}</p>"


def render_issued_html(doc: IssuedDocument) -> str:
    """An issued invoice or credit note: its number, dates, parties, lines, totals and mentions."""
    head = "<tr><th>Description</th><th class=n>Quantity</th><th class=n>Unit price</th><th class=n>Amount</th></tr>"
    rows = "\\n".join(
        f"<tr><td>{escape(x.description)}</td><td class=n>{x.quantity:,.4f} {escape(x.unit)}</td>"
        f"<td class=n>{x.unit_price:,.4f}</td><td class=n>{_eur(x.amount)}</td></tr>" for x in doc.lines
    ) or "<tr><td colspan=4>No usage this month.</td></tr>"
    totals = (f"<tr><td colspan=3>Subtotal</td><td class=n id=subtotal>{_eur(doc.subtotal)}</td></tr>"
              f"<tr><td colspan=3>VAT ({escape(doc.vat_category)}, {doc.vat_percent}%)</td>"
              f"<td class=n id=vat>{_eur(doc.vat_amount)}</td></tr>"
              f"<tr class=total><td colspan=3>Total</td><td class=n id=total>{_eur(doc.total)}</td></tr>")  # fmt: skip
    corrects = f"<p>Corrects invoice {escape(doc.corrects)} of {doc.corrects_date}</p>" if doc.corrects else ""
    notes = "".join(f"<li>{escape(n)}</li>" for n in doc.notes)
    return (f"<!DOCTYPE html>\\n<html lang=en><head><meta charset=utf-8><title>{doc.title} {escape(doc.number)}"
            f"</title><style>{STYLE}</style></head><body>\\n<h1>{doc.title} {escape(doc.number)}</h1>\\n"
            f"<p>Issue date: {doc.issue_date} &middot; Due date: {doc.due_date} &middot; Period: {escape(doc.month)}"
            f" &middot; Currency: {escape(doc.currency)}</p>\\n{corrects}"
            f"{_party_html('Issuer', doc.issuer)}\\n{_party_html('Customer', doc.customer)}\\n"
            f"<table>{head}\\n{rows}\\n{totals}</table>\\n<ul class=muted>{notes}</ul>\\n</body></html>\\n")  # fmt: skip
