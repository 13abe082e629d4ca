"""Issued invoices and credit notes: numbered, dated, with the issuer's and customer's legal
identity, the VAT treatment (reverse charge for intra-EU B2B) and the EN 16931 data of the
Factur-X XML.

An `IssuedDocument` is frozen at issue: it keeps its own copy of the lines and totals (a later
price change never alters an issued invoice; corrections are credit notes). Numbers run
without gaps per issuer and calendar year, one sequence for invoices and credit notes
(`F2026-000001`); the store hands them out inside the issuing transaction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from brique.domain.invoices import Invoice, cents
from brique.domain.vat import EU_STANDARD_RATES

PAYMENT_DAYS = 30
REVERSE_CHARGE_NOTE = ("Autoliquidation / reverse charge: VAT is due by the customer "
                       "(Article 196 of Council Directive 2006/112/EC)")  # fmt: skip
INVOICE, CREDIT_NOTE = "invoice", "credit_note"
TYPE_CODES = {INVOICE: "380", CREDIT_NOTE: "381"}  # UNTDID 1001


def is_eu(country: str) -> bool:
    return country.upper() in EU_STANDARD_RATES or country.upper() == "EL"


@dataclass(frozen=True, slots=True)
class Party:
    """A legal entity on an invoice (issuer: the site operator from the fleet file)."""

    name: str
    country: str
    vat_id: str | None = None
    legal_id: str | None = None  # e.g. SIREN in France
    address: str = ""
    postcode: str = ""
    city: str = ""


@dataclass(frozen=True, slots=True)
class DocLine:
    description: str
    kind: str
    quantity: Decimal  # GPU-hours (HUR), or 1 (C62) for a flat amount
    unit: str
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class IssuedDocument:
    number: str
    kind: str  # invoice | credit_note
    issuer: Party
    customer: Party
    month: str
    issue_date: date
    due_date: date
    lines: tuple[DocLine, ...]
    subtotal: Decimal
    vat_category: str  # S standard, AE reverse charge, O outside the scope of EU VAT
    vat_percent: Decimal
    vat_amount: Decimal
    total: Decimal
    currency: str = "EUR"
    notes: tuple[str, ...] = field(default_factory=tuple)
    contract_version: int | None = None
    corrects: str | None = None  # credit note: the number of the invoice it corrects
    corrects_date: date | None = None

    @property
    def title(self) -> str:
        return "Credit note" if self.kind == CREDIT_NOTE else "Invoice"

    def to_json(self) -> dict[str, Any]:
        return _plain(asdict(self))

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> IssuedDocument:
        dec = Decimal
        lines = tuple(DocLine(x["description"], x["kind"], dec(x["quantity"]), x["unit"], dec(x["unit_price"]),
                              dec(x["amount"])) for x in d["lines"])  # fmt: skip
        day = date.fromisoformat
        return cls(d["number"], d["kind"], Party(**d["issuer"]), Party(**d["customer"]), d["month"],
                   day(d["issue_date"]), day(d["due_date"]), lines, dec(d["subtotal"]), d["vat_category"],
                   dec(d["vat_percent"]), dec(d["vat_amount"]), dec(d["total"]), d["currency"], tuple(d["notes"]),
                   d["contract_version"], d["corrects"], day(d["corrects_date"]) if d["corrects_date"] else None)  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal | date):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    return value


def vat_treatment(issuer: Party, customer: Party, invoice: Invoice) -> tuple[str, Decimal, str]:
    """(category, percent, note): reverse charge for an EU business customer (with a VAT number)
    in another member state than the issuer; outside the EU, outside the scope; else the rate
    the invoice was priced with."""
    if is_eu(customer.country) and is_eu(issuer.country) and customer.country != issuer.country and customer.vat_id:
        return "AE", Decimal(0), REVERSE_CHARGE_NOTE
    if not is_eu(customer.country):
        return "O", Decimal(0), f"no VAT: {customer.country} is outside the scope of EU VAT"
    return "S", invoice.vat.percent, invoice.vat.note


def issue(number: str, issuer: Party, customer: Party, invoice: Invoice, on: date) -> IssuedDocument:
    """The invoice as issued: numbered, dated, its VAT treatment applied to the subtotal."""
    category, percent, note = vat_treatment(issuer, customer, invoice)
    vat = cents(invoice.subtotal * percent / 100)
    notes = tuple(n for n in invoice.notes if n != invoice.vat.note)
    return IssuedDocument(number, INVOICE, issuer, customer, invoice.month, on, on + timedelta(days=PAYMENT_DAYS),
                          tuple(_line(x) for x in invoice.lines) or (_nothing(invoice.month),), invoice.subtotal, category, percent, vat,
                          invoice.subtotal + vat, invoice.currency, (note, *notes), invoice.contract_version)  # fmt: skip


def credit_note(number: str, original: IssuedDocument, on: date, reason: str) -> IssuedDocument:
    """Cancels `original` in full (its lines and totals, credited); a corrected invoice follows."""
    return replace(original, number=number, kind=CREDIT_NOTE, issue_date=on, due_date=on,
                   notes=(f"credit note for invoice {original.number}: {reason}", *original.notes),
                   corrects=original.number, corrects_date=original.issue_date)  # fmt: skip


def _line(x: Any) -> DocLine:
    if x.kind == "commitment":
        return DocLine(x.description, x.kind, Decimal(1), "C62", x.amount, x.amount)
    return DocLine(x.description, x.kind, x.gpu_hours, "HUR", x.unit_price, x.amount)


def _nothing(month: str) -> DocLine:
    """EN 16931 wants at least one line: a month without charges says so."""
    return DocLine(f"No chargeable GPU time in {month}", "usage", Decimal(0), "HUR", Decimal(0), Decimal("0.00"))


def number_for(year: int, seq: int) -> str:
    return f"F{year}-{seq:06d}"


def cii_data(doc: IssuedDocument) -> dict[str, Any]:
    """The EN 16931 (Factur-X 'en16931' profile) data of `doc`, keyed by business term."""
    lines = [{"BT-126": str(i), "BT-129": float(x.quantity), "BT-130": x.unit, "BT-131": float(x.amount),
              "BT-146": float(_net_price(x)), "BT-151": doc.vat_category, "BT-153": x.description[:100],
              **({"BT-152": float(doc.vat_percent)} if doc.vat_category != "O" else {})}
             for i, x in enumerate(doc.lines, 1)]  # fmt: skip
    breakdown = {"BT-116": float(doc.subtotal), "BT-117": float(doc.vat_amount), "BT-118": doc.vat_category}
    if doc.vat_category != "O":
        breakdown["BT-119"] = float(doc.vat_percent)
    if doc.vat_category in ("AE", "O"):
        breakdown["BT-120"] = doc.notes[0][:200]
    data: dict[str, Any] = {
        "BT-1": doc.number, "BT-2": doc.issue_date, "BT-3": TYPE_CODES[doc.kind], "BT-5": doc.currency,
        "BT-9": doc.due_date, "BT-20": f"Payment within {PAYMENT_DAYS} days of the issue date",
        "BT-72": _month_end(doc.month), "BT-73": date.fromisoformat(doc.month + "-01"),
        "BT-74": _month_end(doc.month),
        "BG-1": [{"BT-22": n} for n in doc.notes],
        "BG-4": _party(doc.issuer), "BG-7": _party(doc.customer), "BG-23": [breakdown], "BG-25": lines,
        "BT-106": float(doc.subtotal), "BT-109": float(doc.subtotal), "BT-110": float(doc.vat_amount),
        "BT-112": float(doc.total), "BT-115": float(doc.total),
    }  # fmt: skip
    if doc.contract_version is not None:
        data["BT-12"] = f"contract version {doc.contract_version}"
    if doc.corrects:
        data["BG-3"] = [{"BT-25": doc.corrects, "BT-26": doc.corrects_date}]
    return data


def _net_price(x: DocLine) -> Decimal:
    """Net price per unit so that quantity x price gives the line amount to the cent."""
    if not x.quantity:
        return x.unit_price
    return (x.amount / x.quantity).quantize(Decimal("0.0001")) if x.amount else Decimal(0)


def _party(p: Party) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "country_code": p.country}
    for key, value in (("vat_identifier", p.vat_id), ("legal_identifier", p.legal_id), ("addr_l1", p.address),
                       ("postcode", p.postcode), ("city", p.city)):  # fmt: skip
        if value:
            out[key] = value
    return out


def _month_end(month: str) -> date:
    first = date.fromisoformat(month + "-01")
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)

