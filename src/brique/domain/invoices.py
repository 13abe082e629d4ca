"""Invoice math: lines per project, tier and site; commitment, overage, VAT and rounding.

Rounding rules (docs/billing.md):
- a line's amount = GPU-seconds x EUR per GPU-hour / 3600, computed exactly in `Decimal`, then
  rounded half-up to the cent, once, at the line;
- the subtotal is the sum of the rounded lines; VAT = subtotal x rate, rounded half-up to the
  cent; total = subtotal + VAT;
- GPU-hours are shown to 4 decimals (display only: amounts use the exact seconds).

Prices come from the org's contract (`CommercialTerms`, the version in force cited on the
invoice) and, for what the contract does not price, from the price book's list prices. An org
whose contract has a monthly commitment pays it as one line whether used or not; its priority
usage is listed per project at the contract rate with amount 0.00 ("included"); the part beyond
what the commitment covers (commitment / rate GPU-hours) is one org-level overage line at the
overage rate. Other usage is billed at the contract's agreed rate for its tier, else list price.
An org without a commitment in its contract is billed none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from brique.domain.contracts import CommercialTerms
from brique.domain.energy import Footprint
from brique.domain.jobs import Tier
from brique.domain.pricing import PriceBook
from brique.domain.token_pricing import TokenCharge
from brique.domain.vat import VatRate

CENT = Decimal("0.01")
HOUR = Decimal(3600)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def gpu_hours(gpu_seconds: int | Decimal) -> Decimal:
    return (Decimal(gpu_seconds) / HOUR).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class UsageTotal:
    """GPU-seconds (and their footprint) of one project in one tier and site over the period."""

    project: str
    tier: str
    site: str
    gpu_seconds: int
    footprint: Footprint = field(default_factory=Footprint)


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    kind: str  # commitment | reserved | in_reservation | usage | included | overage
    description: str
    project: str | None
    tier: str | None
    site: str | None
    gpu_seconds: int
    unit_price: Decimal  # EUR per GPU-hour (commitment: the monthly amount)
    amount: Decimal  # EUR, rounded to the cent
    footprint: Footprint = field(default_factory=Footprint)

    @property
    def gpu_hours(self) -> Decimal:
        return gpu_hours(self.gpu_seconds)


@dataclass(frozen=True, slots=True)
class Invoice:
    org: str
    country: str
    month: str
    currency: str
    lines: tuple[InvoiceLine, ...]
    vat: VatRate
    subtotal: Decimal
    vat_amount: Decimal
    total: Decimal
    notes: tuple[str, ...] = field(default_factory=tuple)
    contract_version: int | None = None  # the org's contract version whose terms priced it

    @property
    def footprint(self) -> Footprint:
        total = Footprint()
        for line in self.lines:
            total = total + line.footprint
        return total

    def spend(self, project: str | None = None) -> Decimal:
        """Usage charges before VAT and without the commitment (what budgets count)."""
        kinds = ("usage", "tokens") if project is not None else ("usage", "overage", "tokens")
        return sum((x.amount for x in self.lines if x.kind in kinds and (project is None or x.project == project)),
                   Decimal(0))  # fmt: skip


def build_invoice(
    org: str, country: str, month: str, usage: Iterable[UsageTotal], book: PriceBook, vat: VatRate,
    terms: CommercialTerms | None = None, extra: Iterable[InvoiceLine] = (), tokens: Iterable[TokenCharge] = (),
) -> Invoice:  # fmt: skip
    """`extra`: lines priced elsewhere (reserved capacity), added after the commitment; `tokens`:
    inference tokens per deployment, priced per 1M."""
    committed = terms if terms is not None and terms.monthly_commitment > 0 else None
    lines: list[InvoiceLine] = []
    if committed is not None:
        lines.append(_commitment_line(month, committed))
    lines.extend(extra)
    ordered = sorted(usage, key=lambda u: (u.project, list(Tier).index(Tier(u.tier)), u.site))
    for u in ordered:
        if u.gpu_seconds > 0:
            lines.append(_usage_line(u, book, terms))
    if committed is not None:
        over = _overage_line(lines, committed)
        if over is not None:
            lines.append(over)
    lines += [line for t in tokens for line in _token_lines(t)]
    subtotal = sum((x.amount for x in lines), Decimal(0))
    vat_amount = cents(subtotal * vat.percent / 100)
    notes = (vat.note, "amounts rounded half-up to the cent per line; VAT on the subtotal", *_contract_notes(terms))
    return Invoice(org, country, month, book.currency, tuple(lines), vat, cents(subtotal), vat_amount,
                   cents(subtotal) + vat_amount, notes, terms.version if terms else None)  # fmt: skip


def _token_lines(t: TokenCharge) -> list[InvoiceLine]:
    """Inference tokens of one deployment: input and output lines, unit price per 1M tokens."""
    out = []
    for what, n, price in (("input", t.prompt_tokens, t.price.input_per_m),
                           ("output", t.completion_tokens, t.price.output_per_m)):  # fmt: skip
        if n:
            out.append(InvoiceLine("tokens", f"{t.deployment} ({t.model}): {n:,} {what} tokens", t.project or t.project_id,
                                   None, None, 0, price, cents(price * n / 1_000_000)))  # fmt: skip
    return out


def _contract_notes(terms: CommercialTerms | None) -> tuple[str, ...]:
    if terms is None:
        return ()
    out = [f"prices per contract version {terms.version}"]
    if terms.budget_exempt_tiers:
        tiers = ", ".join(sorted(terms.budget_exempt_tiers))
        out.append(f"tiers exempt from budget hard stops by contract: {tiers}")
    return tuple(out)


def _commitment_line(month: str, c: CommercialTerms) -> InvoiceLine:
    return InvoiceLine("commitment", f"Committed priority capacity, {month}", None, Tier.PRIORITY.value, None,
                       0, c.monthly_commitment, cents(c.monthly_commitment))  # fmt: skip


def _usage_line(u: UsageTotal, book: PriceBook, terms: CommercialTerms | None) -> InvoiceLine:
    if terms is not None and terms.monthly_commitment > 0 and u.tier == Tier.PRIORITY.value:
        return InvoiceLine("included", f"{u.project}: priority GPU time in {u.site} (drawn from commitment)",
                           u.project, u.tier, u.site, u.gpu_seconds, terms.priority_rate or Decimal(0),
                           Decimal("0.00"), u.footprint)  # fmt: skip
    rate = unit_rate(book, terms, u.tier, u.site)
    return InvoiceLine("usage", f"{u.project}: {u.tier} GPU time in {u.site}", u.project, u.tier, u.site,
                       u.gpu_seconds, rate, cents(u.gpu_seconds * rate / HOUR), u.footprint)  # fmt: skip


def unit_rate(book: PriceBook, terms: CommercialTerms | None, tier: str, site: str | None) -> Decimal:
    """EUR per GPU-hour: the contract's agreed rate, else the list price."""
    agreed = terms.rate(tier, site) if terms is not None else None
    return agreed if agreed is not None else book.rate(tier, site)


def _overage_line(lines: list[InvoiceLine], c: CommercialTerms) -> InvoiceLine | None:
    used = sum(x.gpu_seconds for x in lines if x.kind == "included")
    beyond = Decimal(used) - c.covered_gpu_seconds
    if beyond <= 0:
        return None
    seconds = int(beyond.to_integral_value(rounding=ROUND_HALF_UP))
    return InvoiceLine("overage", "Priority GPU time beyond the commitment", None, Tier.PRIORITY.value, None,
                       seconds, c.overage, cents(beyond * c.overage / HOUR))  # fmt: skip
