"""Render the sample invoice shown in docs/billing.md: a Factur-X PDF and a PNG of its first page.

    .venv/bin/python scripts/sample_invoice.py docs/billing   # needs pdftoppm (poppler-utils)

The figures follow the contract -> invoice path of docs/billing.md: a contract (version 2) with a
commitment and agreed rates, a reservation, usage per project; issued by the site operator of the
default fleet file to a German business customer (reverse charge).
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

from brique.config import DEFAULT_FLEET
from brique.domain.contracts import Contract, commercial_terms
from brique.domain.einvoice import Party, issue
from brique.domain.invoices import HOUR, InvoiceLine, UsageTotal, build_invoice, cents
from brique.domain.pricing import parse_pricebook
from brique.domain.vat import vat_rate
from brique.services.einvoice_pdf import facturx_pdf
from brique.services.fleet import load_fleet_file

BOOK = {"rates": {"default": {"priority": "4.80", "standard": "3.60"}}, "preemptible_discount": "0.60"}


def main(out: Path) -> None:
    fleet = load_fleet_file(DEFAULT_FLEET)
    site = fleet.sites[0]
    contract = Contract("org_sample", 144, monthly_commitment=Decimal("315360.00"),
                        rates=(("priority", Decimal("3.00")), ("standard", Decimal("3.40"))),
                        overage_rate=Decimal("3.30"), starts_on=date(2026, 1, 1), ends_on=date(2027, 12, 31))  # fmt: skip
    terms = commercial_terms(2, [contract], date(2026, 11, 1), date(2026, 11, 30))
    reserved = 288 * 14 * 24 * 3600  # 4 racks (288 GPUs) reserved for 14 days of the month
    rate = Decimal("3.00")
    extra = [InvoiceLine("reserved", f"Reserved capacity rsv_sample: 288 GPUs in {site.id}", None, "priority",
                         site.id, reserved, rate, cents(reserved * rate / HOUR))]  # fmt: skip
    usage = [UsageTotal("llm-souverain", "priority", site.id, 144 * 700 * 3600),
             UsageTotal("llm-souverain", "standard", site.id, 64 * 120 * 3600 + 1_234),
             UsageTotal("ocr", "preemptible", site.id, 8 * 300 * 3600)]  # fmt: skip
    invoice = build_invoice("ministere", "DE", "2026-11", usage, parse_pricebook(BOOK), vat_rate("DE"), terms, extra)
    o = site.operator
    issuer = Party(o.name, o.country, o.vat_id, o.legal_id, o.address, o.postcode, o.city)
    customer = Party("Bundesamt für Beispiele", "DE", "DE123456789", None, "Hauptstraße 1", "10115", "Berlin")
    doc = issue("F2026-000042", issuer, customer, invoice, date(2026, 12, 1))
    out.mkdir(parents=True, exist_ok=True)
    pdf = out / "sample-invoice.pdf"
    pdf.write_bytes(facturx_pdf(doc))
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-singlefile", "-f", "1", str(pdf), str(out / "sample-invoice")],
                   check=True)  # fmt: skip
    print(f"wrote {pdf} and {out / 'sample-invoice.png'}: total EUR {doc.total}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/billing"))
