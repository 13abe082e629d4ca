"""Issuing invoices: gap-free numbers per issuer and year, issue and due dates, the issuer's
legal entity (the operator of the site that carries most of the invoice, from the fleet file),
the customer's billing profile, the VAT treatment (reverse charge for intra-EU B2B), Factur-X.

Who may: operators issue invoices and credit notes; tenants read their own issued documents
(JSON, HTML, Factur-X PDF). Issuing a month twice returns the invoice already issued, unless a
credit note cancelled it: then a corrected invoice gets the next number.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy.exc import OperationalError

from brique.clock import Clock
from brique.domain.einvoice import INVOICE, IssuedDocument, Party, credit_note, issue, number_for
from brique.domain.fleet import Fleet, Site
from brique.domain.invoices import Invoice
from brique.domain.tenancy import Action, Organization, Principal, Role
from brique.errors import Duplicate, InvalidInput, NotFound, PermissionDenied, Unavailable
from brique.services.authz import require
from brique.services.billing import BillingService, month_window
from brique.store.db import Database
from brique.store.repos import invoices as repo
from brique.store.repos import tenancy as tenancy_repo

ATTEMPTS = 8  # concurrent first numbers of a year collide once; a busy SQLite may need a few more


class InvoicingService:
    def __init__(self, db: Database, clock: Clock, billing: BillingService, fleet: Fleet) -> None:
        self.db = db
        self.clock = clock
        self.billing = billing
        self.fleet = fleet

    def issue(self, who: Principal, org_ref: str, month: str) -> IssuedDocument:
        require(who, Action.CONTRACT_MANAGE)
        start, end = month_window(month)
        org = self._org(who, org_ref)
        with self.db.transaction() as s:
            found = repo.live_invoice(s, org.id, month)
        if found is not None:
            return found
        self._collect()
        invoice = self.billing.invoice_for(org, month, start, end)
        issuer = self._issuer(invoice)
        return self._store(org, lambda number, customer: issue(number, issuer, customer, invoice,
                                                                self.clock.now().date()), issuer)  # fmt: skip

    def credit(self, who: Principal, number: str, reason: str) -> IssuedDocument:
        require(who, Action.CONTRACT_MANAGE)
        if not reason.strip():
            raise InvalidInput("a credit note needs its reason", field="reason")
        org_id, original = self._get(who, number)
        if original.kind != INVOICE:
            raise InvalidInput(f"{number} is a credit note; only invoices are credited", field="number")
        with self.db.transaction() as s:
            if repo.is_credited(s, number):
                raise InvalidInput(f"invoice {number} is already credited", field="number")
            org = tenancy_repo.find_org(s, org_id)
        assert org is not None
        today = self.clock.now().date()
        return self._store(org, lambda n, _c: credit_note(n, original, today, reason.strip()), original.issuer)

    def get(self, who: Principal, number: str) -> IssuedDocument:
        return self._get(who, number)[1]

    def list(self, who: Principal, org_ref: str) -> list[IssuedDocument]:
        org = self._org(who, org_ref)
        with self.db.transaction() as s:
            return repo.for_org(s, org.id)

    def set_profile(self, who: Principal, org_ref: str, p: Party) -> Party:
        org = self._org(who, org_ref)
        if who.role not in (Role.TENANT_ADMIN, Role.OPERATOR_ADMIN):
            raise PermissionDenied(f"role '{who.role}' may not set the billing profile (tenant-admin)")
        if p.vat_id and not re.fullmatch(r"[A-Z]{2}[0-9A-Z+*.]{2,13}", p.vat_id):
            raise InvalidInput("a VAT number is its country prefix and 2-13 letters or digits", field="vat_id")
        with self.db.transaction() as s:
            repo.save_profile(s, org.id, p, self.clock.now())
            return repo.profile(s, org.id, org.country, org.name)

    def profile(self, who: Principal, org_ref: str) -> Party:
        org = self._org(who, org_ref)
        with self.db.transaction() as s:
            return repo.profile(s, org.id, org.country, org.name)

    # -- helpers --------------------------------------------------------------------------------

    def _store(
        self, org: Organization, make: Callable[[str, Party], IssuedDocument], issuer: Party
    ) -> IssuedDocument:
        """Number and record a document in one transaction (the number exists only if it does)."""
        key, year = _issuer_key(issuer), self.clock.now().year
        for attempt in range(ATTEMPTS):
            try:
                with self.db.transaction() as s:
                    customer = repo.profile(s, org.id, org.country, org.name)
                    doc = make(number_for(year, repo.next_number(s, key, year)), customer)
                    repo.add(s, key, org.id, doc, self.clock.now())
                    return doc
            except (Duplicate, OperationalError):
                if attempt == ATTEMPTS - 1:
                    raise Unavailable("could not number the invoice (busy); retry") from None
        raise AssertionError("unreachable")

    def _collect(self) -> None:
        """Bring usage up to date; a concurrent collector writing the same rows wins (its rows count)."""
        for attempt in range(3):
            try:
                self.billing.metering.collect()
                return
            except Duplicate:
                if attempt == 2:
                    raise

    def _issuer(self, invoice: Invoice) -> Party:
        """The operator of the site that carries the largest part of the invoice."""
        amounts: dict[str, Decimal] = defaultdict(Decimal)
        for line in invoice.lines:
            if line.site:
                amounts[line.site] += line.amount
        site_id = max(sorted(amounts), key=lambda k: amounts[k]) if amounts else None
        site = (self.fleet.site(site_id) if site_id else None) or self.fleet.sites[0]
        return _operator(site)

    def _org(self, who: Principal, org_ref: str) -> Organization:
        with self.db.transaction() as s:
            org = tenancy_repo.find_org(s, org_ref)
        if org is None or not (who.is_operator or who.org_id == org.id):
            raise NotFound(f"organization '{org_ref}' not found", field="org")
        return org

    def _get(self, who: Principal, number: str) -> tuple[str, IssuedDocument]:
        with self.db.transaction() as s:
            found = repo.get(s, number)
        if found is None or not (who.is_operator or who.org_id == found[0]):
            raise NotFound(f"invoice '{number}' not found", field="number")
        return found


def _operator(site: Site) -> Party:
    o = site.operator
    return Party(o.name, o.country, o.vat_id, o.legal_id, o.address, o.postcode, o.city)


def _issuer_key(p: Party) -> str:
    return (p.vat_id or p.name)[:63]
