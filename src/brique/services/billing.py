"""Billing: invoices per org per month, from usage records, the org's contract (version in force
at the end of the month), the price book's list prices and VAT."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import yaml

from brique.domain.contracts import CommercialTerms, commercial_terms
from brique.domain.energy import Footprint
from brique.domain.focus import FocusCharge
from brique.domain.invoices import Invoice, UsageTotal, build_invoice, unit_rate
from brique.domain.metering import month_bounds
from brique.domain.pricing import PriceBook, PriceBookInvalid, parse_pricebook
from brique.domain.tenancy import Organization, Principal
from brique.domain.vat import vat_rate
from brique.errors import InvalidInput, PricebookInvalid
from brique.services.metering import MeteringService, UsageReport
from brique.store.repos import contracts as contracts_repo


def load_pricebook(path: Path) -> PriceBook:
    """Read and validate a price book file; every problem is named with its path."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path}: cannot read the price book: {exc}", field="pricebook_file") from exc
    try:
        return parse_pricebook(doc)
    except PriceBookInvalid as exc:
        lines = "\n".join(f"{path}: {p}" for p in exc.problems)
        raise PricebookInvalid(lines, field="pricebook_file") from exc


def totals(report: UsageReport) -> list[UsageTotal]:
    """Usage of a report summed per (project, tier, site)."""
    seconds: dict[tuple[str, str, str], int] = defaultdict(int)
    prints: dict[tuple[str, str, str], Footprint] = defaultdict(Footprint)
    for item in report.items:
        key = (item.project, item.record.tier, item.record.site_id)
        seconds[key] += item.gpu_seconds
        prints[key] = prints[key] + item.footprint
    return [UsageTotal(p, t, site, seconds[(p, t, site)], prints[(p, t, site)]) for p, t, site in seconds]


class BillingService:
    def __init__(self, metering: MeteringService, book: PriceBook) -> None:
        self.metering = metering
        self.book = book

    def invoice(self, who: Principal, org_ref: str | None, month: str) -> Invoice:
        org = self.metering.org_for(who, org_ref)
        start, end = _month(month)
        self.metering.collect()
        return self.invoice_for(org, month, start, end)

    def invoice_for(self, org: Organization, month: str, start: datetime, end: datetime) -> Invoice:
        report = self.metering.report(org, start, end)
        vat = vat_rate(org.country, self.book.vat_rates)
        terms = self.terms(org, start, end)
        return build_invoice(org.name, org.country, month, totals(report), self.book, vat, terms)

    def terms(self, org: Organization, start: datetime, end: datetime) -> CommercialTerms | None:
        """The commercial terms of the org's contract version in force at `end` (or now, if sooner)."""
        at = min(end, self.metering.clock.now() + timedelta(microseconds=1))
        with self.metering.db.transaction() as s:
            version, contracts = contracts_repo.version_at(s, org.id, at)
        last = (end - timedelta(microseconds=1)).date()
        return commercial_terms(version, contracts, start.date(), last)

    def month_to_date(self, org: Organization, at: datetime) -> Invoice:
        """The running invoice of the month containing `at` (what budgets count)."""
        month = f"{at.year:04d}-{at.month:02d}"
        start, end = month_bounds(month)
        return self.invoice_for(org, month, start, end)

    def unit_cost(
        self, terms: CommercialTerms | None, tier: str, site: str, gpu_seconds: int
    ) -> tuple[Decimal, Decimal]:
        """(billed, effective) EUR of some usage, unrounded: priority under a commitment is billed 0
        (drawn from it) and effectively costs the contract rate."""
        if terms is not None and terms.monthly_commitment > 0 and tier == "priority":
            return Decimal(0), (terms.priority_rate or Decimal(0)) * gpu_seconds / 3600
        cost = unit_rate(self.book, terms, tier, site) * gpu_seconds / 3600
        return cost, cost


def _month(month: str) -> tuple[datetime, datetime]:
    try:
        return month_bounds(month)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from exc


def charges(billing: BillingService, report: UsageReport, regions: dict[str, str]) -> list[FocusCharge]:
    """The report's items as priced charges (FOCUS rows and the JSON usage answer)."""
    out = []
    org = report.org
    terms = billing.terms(org, report.start, report.end)
    for item in report.items:
        r = item.record
        billed, effective = billing.unit_cost(terms, r.tier, r.site_id, item.gpu_seconds)
        list_price = billing.book.rate(r.tier, r.site_id)
        contracted = unit_rate(billing.book, terms, r.tier, r.site_id)
        out.append(FocusCharge(org.id, org.name, r.project_id, item.project, r.job_id, r.job_name, r.attempt,
                               r.tier, r.site_id, regions.get(r.site_id, ""), r.gpus, item.start, item.end,
                               item.gpu_seconds, list_price, contracted, billed, effective,
                               item.footprint.facility_kwh, item.footprint.co2e_kg))  # fmt: skip
    return out
