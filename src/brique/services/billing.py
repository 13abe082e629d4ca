"""Billing: invoices per org per month, from usage records, the org's contract (version in force
at the end of the month), the price book's list prices and VAT."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import yaml

from brique.domain.contracts import CommercialTerms, commercial_terms
from brique.domain.energy import Footprint
from brique.domain.focus import FocusCharge
from brique.domain.invoices import HOUR, Invoice, InvoiceLine, UsageTotal, build_invoice, cents, unit_rate
from brique.domain.metering import month_bounds
from brique.domain.pricing import PriceBook, PriceBookInvalid, parse_pricebook
from brique.domain.reservations import Reservation
from brique.domain.tenancy import Organization, Principal
from brique.domain.token_pricing import TokenCharge
from brique.domain.vat import vat_rate
from brique.errors import InvalidInput, PricebookInvalid
from brique.services.metering import MeteringService, UsageItem, UsageReport
from brique.store.repos import contracts as contracts_repo
from brique.store.repos import reservations as reservations_repo


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
    return totals_of(report.items)


def totals_of(items: Iterable[UsageItem]) -> list[UsageTotal]:
    seconds: dict[tuple[str, str, str], int] = defaultdict(int)
    prints: dict[tuple[str, str, str], Footprint] = defaultdict(Footprint)
    for item in items:
        key = (item.project, item.record.tier, item.record.site_id)
        seconds[key] += item.gpu_seconds
        prints[key] = prints[key] + item.footprint
    return [UsageTotal(p, t, site, seconds[(p, t, site)], prints[(p, t, site)]) for p, t, site in seconds]


# Inference token charges of an org over [start, end) (services/inference/usage.py), priced by the book.
TokenCharges = Callable[[str, datetime, datetime, PriceBook], list[TokenCharge]]


class BillingService:
    def __init__(self, metering: MeteringService, book: PriceBook, tokens: TokenCharges | None = None) -> None:
        self.metering = metering
        self.book = book
        self.tokens = tokens

    def invoice(self, who: Principal, org_ref: str | None, month: str) -> Invoice:
        org = self.metering.org_for(who, org_ref)
        start, end = month_window(month)
        self.metering.collect()
        return self.invoice_for(org, month, start, end)

    def invoice_for(self, org: Organization, month: str, start: datetime, end: datetime) -> Invoice:
        report = self.metering.report(org, start, end)
        vat = vat_rate(org.country, self.book.vat_rates)
        terms = self.terms(org, start, end)
        with self.metering.db.transaction() as s:
            booked = reservations_repo.for_org_between(s, org.id, start, end)
        usage, extra = self._reserved(report, booked, terms, start, end)
        return build_invoice(org.name, org.country, month, usage, self.book, vat, terms, extra,
                             self.token_charges(org, start, end))  # fmt: skip

    def token_charges(self, org: Organization, start: datetime, end: datetime) -> list[TokenCharge]:
        return self.tokens(org.id, start, end, self.book) if self.tokens is not None else []

    def _reserved(
        self, report: UsageReport, booked: list[Reservation], terms: CommercialTerms | None, start: datetime,
        end: datetime,
    ) -> tuple[list[UsageTotal], list[InvoiceLine]]:  # fmt: skip
        """Reserved capacity is billed whether used or not, at the contract's priority rate for its
        site (else the list priority price); usage inside it is included (not billed twice)."""
        items, lines = list(report.items), []
        for r in booked:
            site = self.metering.fleet.site(r.site)
            if site is None:
                continue
            seconds = r.gpu_seconds_in(site, start, end)
            rate = unit_rate(self.book, terms, "priority", r.site)
            lines.append(InvoiceLine("reserved", f"Reserved capacity {r.id}: {_held(r)} in {r.site}", None,
                                     "priority", r.site, seconds, rate, cents(seconds * rate / HOUR)))  # fmt: skip
            items, covered = _cover(items, r, seconds)
            lines.extend(InvoiceLine("in_reservation", f"{p}: GPU time inside reservation {r.id}", p, t, r.site, n,
                                     rate, Decimal("0.00")) for (p, t), n in sorted(covered.items()))  # fmt: skip
        return totals_of(items), lines

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


def _held(r: Reservation) -> str:
    return f"{r.gpus} GPUs" if r.gpus else f"racks {', '.join(r.racks)}"


def _cover(
    items: list[UsageItem], r: Reservation, capacity: int
) -> tuple[list[UsageItem], dict[tuple[str, str], int]]:
    """Take the org's usage in the reservation's site and window, up to its reserved GPU-seconds,
    out of `items`; returns the rest and the covered GPU-seconds per (project, tier)."""
    rest: list[UsageItem] = []
    covered: dict[tuple[str, str], int] = defaultdict(int)
    for item in items:
        lo, hi = max(item.start, r.starts_at), min(item.end, r.ends_at)
        inside = 0
        if item.record.site_id == r.site and hi > lo:
            inside = min(int((hi - lo).total_seconds()) * item.record.gpus, item.gpu_seconds, capacity)
        capacity -= inside
        if inside:
            covered[(item.project, item.record.tier)] += inside
        rest.append(dataclasses.replace(item, gpu_seconds=item.gpu_seconds - inside) if inside else item)
    return rest, covered


def month_window(month: str) -> tuple[datetime, datetime]:
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
