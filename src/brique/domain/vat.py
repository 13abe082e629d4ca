"""VAT by the customer organization's country.

The table holds the EU member states' **standard** rates (percent) as of 2025-08 (FI 25.5 since
2024-09, SK 23 and EE 24 since 2025, RO 21 since 2025-08). The operator can override or add rates
in the price book (`vat_rates:`), e.g. when a rate changes.

What Brique does (and does not):
- VAT is charged at the standard rate of the org's country (destination principle), on the
  invoice subtotal, rounded half-up to the cent once per invoice.
- Reverse charge for B2B customers in another member state is **not** applied: an operator who
  needs it sets that country's rate to 0 in the price book and states the mention on the invoice.
- A country outside the table (outside the EU) is charged 0% VAT ("outside the scope of EU VAT").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

_RATES = {
    "AT": "20", "BE": "21", "BG": "20", "HR": "25", "CY": "19", "CZ": "21", "DK": "25", "EE": "24",
    "FI": "25.5", "FR": "20", "DE": "19", "GR": "24", "HU": "27", "IE": "23", "IT": "22", "LV": "21",
    "LT": "21", "LU": "17", "MT": "18", "NL": "21", "PL": "23", "PT": "23", "RO": "21", "SK": "23",
    "SI": "22", "ES": "21", "SE": "25",
}  # fmt: skip
EU_STANDARD_RATES: Mapping[str, Decimal] = {code: Decimal(rate) for code, rate in _RATES.items()}


@dataclass(frozen=True, slots=True)
class VatRate:
    country: str
    percent: Decimal
    note: str


def vat_rate(country: str, overrides: Mapping[str, Decimal] | None = None) -> VatRate:
    """The rate charged to an org in `country` (ISO 3166-1 alpha-2; 'EL' is read as 'GR')."""
    code = "GR" if country.upper() == "EL" else country.upper()
    if overrides and code in overrides:
        return VatRate(code, overrides[code], f"VAT {code} {overrides[code]}% (price book)")
    if code in EU_STANDARD_RATES:
        return VatRate(code, EU_STANDARD_RATES[code], f"VAT {code} standard rate {EU_STANDARD_RATES[code]}%")
    return VatRate(code, Decimal("0"), f"no VAT: {code} is outside the scope of EU VAT")
