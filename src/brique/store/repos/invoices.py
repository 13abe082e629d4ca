"""Issued invoices and credit notes, their gap-free numbers, and customers' billing profiles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from brique.domain.einvoice import CREDIT_NOTE, INVOICE, IssuedDocument, Party
from brique.store.commerce_tables import BillingProfileRow, InvoiceCounterRow, IssuedInvoiceRow


def next_number(session: Session, issuer: str, year: int) -> int:
    """The next number of `issuer` in `year`, taken inside the caller's transaction.

    The UPDATE comes first so the transaction holds the write lock before it reads (no two
    transactions can read the same value); a year's first number inserts the counter, and two
    concurrent first numbers collide on its primary key (the caller retries)."""
    q = (update(InvoiceCounterRow).where(InvoiceCounterRow.issuer == issuer, InvoiceCounterRow.year == year)
         .values(last=InvoiceCounterRow.last + 1))  # fmt: skip
    if session.execute(q).rowcount:
        return session.scalar(select(InvoiceCounterRow.last).where(InvoiceCounterRow.issuer == issuer,
                                                                   InvoiceCounterRow.year == year))  # type: ignore[return-value]  # fmt: skip
    session.add(InvoiceCounterRow(issuer=issuer, year=year, last=1))
    session.flush()
    return 1


def add(session: Session, issuer: str, org_id: str, doc: IssuedDocument, at: datetime) -> None:
    session.add(IssuedInvoiceRow(issuer=issuer, number=doc.number, kind=doc.kind, org_id=org_id, month=doc.month,
                                 issue_date=doc.issue_date, due_date=doc.due_date, total=doc.total,
                                 corrects=doc.corrects, document=doc.to_json(), created_at=at))  # fmt: skip
    session.flush()


def get(session: Session, number: str) -> tuple[str, IssuedDocument] | None:
    row = session.scalars(select(IssuedInvoiceRow).where(IssuedInvoiceRow.number == number)).first()
    return None if row is None else (row.org_id, IssuedDocument.from_json(row.document))


def for_org(session: Session, org_id: str) -> list[IssuedDocument]:
    q = select(IssuedInvoiceRow).where(IssuedInvoiceRow.org_id == org_id).order_by(IssuedInvoiceRow.id)
    return [IssuedDocument.from_json(r.document) for r in session.scalars(q)]


def live_invoice(session: Session, org_id: str, month: str) -> IssuedDocument | None:
    """The org's invoice for `month` that no credit note cancelled, if any."""
    q = select(IssuedInvoiceRow).where(IssuedInvoiceRow.org_id == org_id, IssuedInvoiceRow.month == month)
    rows = list(session.scalars(q))
    credited = {r.corrects for r in rows if r.kind == CREDIT_NOTE}
    live = [r for r in rows if r.kind == INVOICE and r.number not in credited]
    return IssuedDocument.from_json(live[-1].document) if live else None


def is_credited(session: Session, number: str) -> bool:
    q = select(IssuedInvoiceRow.id).where(IssuedInvoiceRow.corrects == number).limit(1)
    return session.scalar(q) is not None


def profile(session: Session, org_id: str, country: str, fallback_name: str) -> Party:
    row = session.get(BillingProfileRow, org_id)
    if row is None:
        return Party(fallback_name, country)
    return Party(row.legal_name, country, row.vat_id, row.legal_id, row.address, row.postcode, row.city)


def save_profile(session: Session, org_id: str, p: Party, at: datetime) -> None:
    row = session.get(BillingProfileRow, org_id)
    if row is None:
        row = BillingProfileRow(org_id=org_id)
        session.add(row)
    row.legal_name, row.vat_id, row.legal_id, row.address, row.postcode, row.city, row.updated_at = (
        p.name, p.vat_id, p.legal_id, p.address, p.postcode, p.city, at)  # fmt: skip
    session.flush()
