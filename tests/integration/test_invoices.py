"""Issued invoices (issue 16): gap-free numbers under concurrent issuing, issuer and customer
identities, reverse charge, credit notes, and a Factur-X PDF whose XML passes the `factur-x`
library's XSD check and carries the HTML invoice's totals."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import facturx
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from pypdf import PdfReader

from brique.api.app import create_app
from brique.clock import FixedClock
from brique.config import Settings
from brique.server.runtime import Runtime, build_runtime
from tests.integration.conftest import auth

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PRICEBOOK = 'currency: EUR\nrates:\n  default: {priority: "4.80", standard: "3.60"}\n  sites: {de-tst-1: {standard: "3.20"}}\n'
NS = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
      "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
      "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"}  # fmt: skip


@pytest.fixture
def cloud(settings: Settings, tmp_path: Path) -> Iterator[tuple[Runtime, TestClient, FixedClock, str]]:
    book = tmp_path / "prices.yaml"
    book.write_text(PRICEBOOK, encoding="utf-8")
    clock = FixedClock(T0)
    rt = build_runtime(settings.model_copy(update={"submission_burst": 50, "pricebook_file": book}), clock=clock)
    admin = rt.services.tenancy.bootstrap(settings.admin_key_file)
    assert admin is not None
    with TestClient(create_app(rt, run_scheduler=False)) as http:
        yield rt, http, clock, admin
    rt.close()


def make_org(http: TestClient, admin: str, name: str, country: str) -> str:
    r = http.post("/v1/orgs", json={"name": name, "admin_email": f"a@{name}.eu", "country": country},
                  headers=auth(admin))  # fmt: skip
    assert r.status_code == 201, r.text
    key = r.json()["admin_key"]["token"]
    assert http.post(f"/v1/orgs/{name}/projects", json={"name": "llm"}, headers=auth(key)).status_code == 201
    return key


def test_factur_x_passes_the_library_checks_and_its_totals_equal_the_html_invoice(cloud: Any) -> None:
    rt, http, clock, admin = cloud
    key = make_org(http, admin, "acme", "DE")
    r = http.put("/v1/orgs/acme/billing-profile", headers=auth(key), json={
        "legal_name": "ACME Forschung GmbH", "vat_id": "DE123456789", "address": "Hauptstr. 1",
        "postcode": "10115", "city": "Berlin"})  # fmt: skip
    assert r.status_code == 200, r.text
    job = {"name": "j", "project": "llm", "command": "c", "gpus": 8, "sleep_s": 999,
           "placement": {"countries": ["FR"]}}  # fmt: skip
    assert http.post("/v1/jobs", json=job, headers=auth(key)).status_code == 201
    for step in (0, 1, 999, 1):
        clock.at += timedelta(seconds=step)
        rt.services.scheduling.cycle()
    clock.at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert http.post("/v1/orgs/acme/invoices/2026-11/issue", headers=auth(key)).status_code == 403  # operators issue
    issued = http.post("/v1/orgs/acme/invoices/2026-11/issue", headers=auth(admin))
    assert issued.status_code == 201, issued.text
    inv = issued.json()
    assert (inv["number"], inv["issue_date"], inv["due_date"]) == ("F2026-000001", "2026-12-01", "2026-12-31")
    assert inv["issuer"]["name"] == "Test Compute SAS" and inv["issuer"]["vat_id"] == "FR40123456789"
    assert inv["customer"]["vat_id"] == "DE123456789"
    # FR operator, DE business customer with a VAT number: reverse charge, no VAT
    assert (inv["vat_category"], inv["vat_amount"]) == ("AE", "0.00") and "reverse charge" in inv["notes"][0]
    assert inv["subtotal"] == "7.99"  # 8 GPUs x 999 s x 3.60 / 3600 = 7.992
    again = http.post("/v1/orgs/acme/invoices/2026-11/issue", headers=auth(admin)).json()
    assert again["number"] == "F2026-000001"  # issuing twice returns the same invoice
    html = http.get(f"/v1/invoices/{inv['number']}", params={"format": "html"}, headers=auth(key)).text
    assert "Article 196" in html and "FR40123456789" in html and "DE123456789" in html
    html_total = re.search(r'id=total>EUR ([0-9,.]+)<', html).group(1).replace(",", "")  # type: ignore[union-attr]
    pdf = http.get(f"/v1/invoices/{inv['number']}", params={"format": "facturx"}, headers=auth(key))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    name, xml = facturx.get_xml_from_pdf(pdf.content, check_xsd=True)
    assert name == "factur-x.xml" and facturx.get_level(etree.fromstring(xml)) == "en16931"
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = etree.fromstring(xml)
    total = tree.findtext(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount", namespaces=NS)
    basis = tree.findtext(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:TaxBasisTotalAmount",
                          namespaces=NS)  # fmt: skip
    assert Decimal(total) == Decimal(html_total) == Decimal(inv["total"]) and Decimal(basis) == Decimal("7.99")
    assert tree.findtext(".//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID", namespaces=NS) == "FR40123456789"
    assert tree.findtext(".//ram:ApplicableTradeTax/ram:CategoryCode", namespaces=NS) == "AE"
    reader = PdfReader(io.BytesIO(pdf.content))  # PDF/A-3: output intent, XMP identification
    root = reader.trailer["/Root"]
    assert root["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    xmp = root["/Metadata"].get_object().get_data()
    assert b"<pdfaid:part>3</pdfaid:part>" in xmp and b"fx:ConformanceLevel>EN 16931<" in xmp
    # a credit note cancels it; the corrected invoice takes the next number
    credit = http.post(f"/v1/invoices/{inv['number']}/credit-note", json={"reason": "wrong VAT number"},
                       headers=auth(admin))  # fmt: skip
    assert credit.status_code == 201, credit.text
    assert (credit.json()["number"], credit.json()["kind"], credit.json()["corrects"]) == (
        "F2026-000002", "credit_note", "F2026-000001")
    _, cn_xml = facturx.get_xml_from_pdf(http.get("/v1/invoices/F2026-000002", params={"format": "facturx"},
                                                  headers=auth(key)).content, check_xsd=True)  # fmt: skip
    assert etree.fromstring(cn_xml).findtext(".//rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "381"
    reissued = http.post("/v1/orgs/acme/invoices/2026-11/issue", headers=auth(admin)).json()
    assert reissued["number"] == "F2026-000003"


def test_invoice_numbers_have_no_gaps_under_concurrent_generation(cloud: Any) -> None:
    rt, http, _clock, admin = cloud
    names = [f"org{i}" for i in range(6)]
    for n in names:
        make_org(http, admin, n, "FR")
    operator = rt.services.tenancy.authenticate(admin)
    months = ["2026-09", "2026-10", "2026-11"]
    numbers: list[str] = []
    errors: list[BaseException] = []

    def work(org: str) -> None:
        try:
            for m in months:
                numbers.append(rt.services.invoicing.issue(operator, org, m).number)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(numbers) == [f"F2026-{i:06d}" for i in range(1, len(names) * len(months) + 1)]
