"""Wire models for issued invoices, credit notes and customers' billing profiles."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field

from brique.domain.einvoice import IssuedDocument, Party
from brique.schemas.base import StrictModel


class PartyModel(BaseModel):
    name: str
    country: str
    vat_id: str | None = None
    legal_id: str | None = None
    address: str = ""
    postcode: str = ""
    city: str = ""

    @classmethod
    def from_domain(cls, p: Party) -> PartyModel:
        return cls(name=p.name, country=p.country, vat_id=p.vat_id, legal_id=p.legal_id, address=p.address,
                   postcode=p.postcode, city=p.city)  # fmt: skip


class BillingProfileRequest(StrictModel):
    legal_name: str = Field(min_length=1, max_length=200)
    vat_id: str | None = Field(default=None, max_length=20, description="intra-EU VAT number, e.g. DE123456789")
    legal_id: str | None = Field(default=None, max_length=40, description="company registration number")
    address: str = Field(default="", max_length=200)
    postcode: str = Field(default="", max_length=20)
    city: str = Field(default="", max_length=100)


class CreditNoteRequest(StrictModel):
    reason: str = Field(min_length=1, max_length=500)


class IssuedLineResponse(BaseModel):
    description: str
    kind: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal


class IssuedInvoiceResponse(BaseModel):
    number: str
    kind: str
    issuer: PartyModel
    customer: PartyModel
    month: str
    issue_date: date
    due_date: date
    lines: list[IssuedLineResponse]
    subtotal: Decimal
    vat_category: str
    vat_percent: Decimal
    vat_amount: Decimal
    total: Decimal
    currency: str
    notes: list[str]
    contract_version: int | None
    corrects: str | None

    @classmethod
    def from_domain(cls, d: IssuedDocument) -> IssuedInvoiceResponse:
        lines = [IssuedLineResponse(description=x.description, kind=x.kind, quantity=x.quantity, unit=x.unit,
                                    unit_price=x.unit_price, amount=x.amount) for x in d.lines]  # fmt: skip
        return cls(number=d.number, kind=d.kind, issuer=PartyModel.from_domain(d.issuer),
                   customer=PartyModel.from_domain(d.customer), month=d.month, issue_date=d.issue_date,
                   due_date=d.due_date, lines=lines, subtotal=d.subtotal, vat_category=d.vat_category,
                   vat_percent=d.vat_percent, vat_amount=d.vat_amount, total=d.total, currency=d.currency,
                   notes=list(d.notes), contract_version=d.contract_version, corrects=d.corrects)  # fmt: skip
