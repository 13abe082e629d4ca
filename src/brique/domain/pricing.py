"""The price book: list prices in EUR per GPU-hour by tier and site, preemptible discount, VAT.

Agreed prices and commitments are no part of it: they are terms of an org's contract
(domain/contracts.py), the one record both the scheduler and billing read.

A YAML file the operator edits (format in docs/billing.md; shipped example:
`src/brique/pricebooks/example.yaml`). Parsed into frozen values here; every problem is reported
with its path in the document (`rates.sites.de-par-1.standard: …`), like the fleet file.

    currency: EUR
    preemptible_discount: "0.60"        # preemptible = standard rate x (1 - discount)
    rates:                              # EUR per GPU-hour
      default: {priority: "4.80", standard: "3.60"}
      sites: {de-tst-1: {standard: "3.20"}}
    vat_rates: {FR: "20"}               # optional overrides of domain/vat.py

Money is `Decimal` from strings (YAML floats are refused for prices: 0.1 is not 0.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from brique.domain.jobs import Tier
from brique.domain.suggest import unknown_field
from brique.domain.token_pricing import TokenPrice, parse_token_prices

TIERS = tuple(t.value for t in Tier)


class PriceBookInvalid(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class PriceBook:
    currency: str
    default_rates: Mapping[str, Decimal]  # tier -> EUR per GPU-hour
    site_rates: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    preemptible_discount: Decimal = Decimal("0")
    vat_rates: Mapping[str, Decimal] = field(default_factory=dict)
    tokens: Mapping[str, TokenPrice] = field(default_factory=dict)  # inference: EUR per 1M tokens

    def rate(self, tier: str, site: str | None) -> Decimal:
        """List price per GPU-hour of `tier` in `site` (site rate, else default; preemptible
        without its own rate is the standard rate less the discount)."""
        for table in (self.site_rates.get(site or "", {}), self.default_rates):
            if tier in table:
                return table[tier]
        if tier == Tier.PREEMPTIBLE.value:
            return self.rate(Tier.STANDARD.value, site) * (1 - self.preemptible_discount)
        raise KeyError(f"no price for tier '{tier}'")



TOP_KEYS = frozenset({"currency", "rates", "preemptible_discount", "vat_rates", "tokens"})
RATES_KEYS = frozenset({"default", "sites"})


def parse_pricebook(doc: Any) -> PriceBook:
    """Build a `PriceBook` from a decoded YAML document or raise `PriceBookInvalid`."""
    p = _Problems()
    if not isinstance(doc, Mapping):
        raise PriceBookInvalid(["(top): must be a mapping"])
    if "contracts" in doc:
        p.add("contracts", "commitments and agreed rates are contract terms, not price-book entries: "
                           "set them with `brique contract set` (the price book holds list prices only)")
    p.unknown({k: v for k, v in doc.items() if k != "contracts"}, "", TOP_KEYS)
    currency = str(doc.get("currency", "EUR"))
    if currency != "EUR":
        p.add("currency", f"only EUR is supported, not '{currency}'")
    rates = doc.get("rates")
    if not isinstance(rates, Mapping):
        p.add("rates", "is required: a mapping with 'default' (and optionally 'sites')")
        rates = {}
    p.unknown(rates, "rates", RATES_KEYS)
    default = _tier_rates(rates.get("default"), "rates.default", p)
    if Tier.STANDARD.value not in default:
        p.add("rates.default.standard", "is required")
    sites_doc = rates.get("sites") or {}
    if not isinstance(sites_doc, Mapping):
        p.add("rates.sites", "must be a mapping of site id to tier rates")
        sites_doc = {}
    sites = {str(k): _tier_rates(v, f"rates.sites.{k}", p) for k, v in sites_doc.items()}
    discount = _money(doc.get("preemptible_discount", "0"), "preemptible_discount", p)
    if discount is not None and not Decimal(0) <= discount < 1:
        p.add("preemptible_discount", "must be in [0, 1)")
    vat = _vat(doc.get("vat_rates") or {}, p)
    tokens = parse_token_prices(doc.get("tokens"), p.add, lambda v, path: _money(v, path, p))
    p.raise_if_any()
    return PriceBook(currency, default, sites, discount or Decimal(0), vat, tokens)


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")

    def unknown(self, doc: Mapping[Any, Any], path: str, known: frozenset[str]) -> None:
        for key in doc:
            if str(key) not in known:
                self.add(f"{path}.{key}" if path else str(key), unknown_field(str(key), known))

    def raise_if_any(self) -> None:
        if self.items:
            raise PriceBookInvalid(self.items)


def _money(value: Any, path: str, p: _Problems, *, positive: bool = False) -> Decimal | None:
    if isinstance(value, float):
        p.add(path, f"write prices as strings ('{value}'), not YAML floats")
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        p.add(path, f"'{value}' is not a decimal number")
        return None
    if not amount.is_finite() or amount < 0 or (positive and amount == 0):
        p.add(path, "must be a positive amount" if positive else "must be >= 0")
        return None
    return amount


def _tier_rates(doc: Any, path: str, p: _Problems) -> dict[str, Decimal]:
    if not isinstance(doc, Mapping):
        p.add(path, "must be a mapping of tier to EUR per GPU-hour")
        return {}
    out: dict[str, Decimal] = {}
    for tier, value in doc.items():
        if tier not in TIERS:
            p.add(f"{path}.{tier}", f"unknown tier (one of {', '.join(TIERS)})")
            continue
        amount = _money(value, f"{path}.{tier}", p)
        if amount is not None:
            out[str(tier)] = amount
    return out


def _vat(doc: Any, p: _Problems) -> dict[str, Decimal]:
    if not isinstance(doc, Mapping):
        p.add("vat_rates", "must be a mapping of country code to percent")
        return {}
    out: dict[str, Decimal] = {}
    for country, value in doc.items():
        amount = _money(value, f"vat_rates.{country}", p)
        if amount is not None:
            out[str(country).upper()] = amount
    return out
