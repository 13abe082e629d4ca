"""Usage as rows in the FinOps FOCUS layout (FOCUS 1.0 column names), so FinOps tools read it.

One row per job attempt per month (a charge period never spans two billing periods). Brique
specific facts go in `x_` columns, as FOCUS asks for custom columns. Costs are in EUR, unrounded
to 6 decimals (the invoice rounds per line; see docs/billing.md).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from brique.domain.metering import month_bounds

PROVIDER = "Brique"
COLUMNS = (
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "BillingCurrency",
    "BillingAccountId", "BillingAccountName", "BillingPeriodStart", "BillingPeriodEnd",
    "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "PricingCategory", "PricingQuantity", "PricingUnit", "ListUnitPrice",
    "ContractedUnitPrice", "ConsumedQuantity", "ConsumedUnit", "ProviderName", "PublisherName",
    "InvoiceIssuerName", "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "ResourceId",
    "ResourceName", "ResourceType", "Region", "RegionId", "RegionName", "SubAccountId", "SubAccountName",
    "Tags", "x_Tier", "x_Attempt", "x_GpuCount", "x_GpuSeconds", "x_EnergyKWh", "x_CarbonKgCO2e",
)  # fmt: skip
MICRO = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class FocusCharge:
    org_id: str
    org_name: str
    project_id: str
    project: str
    job_id: str
    job_name: str
    attempt: int
    tier: str
    site: str
    region: str
    gpus: int
    start: datetime
    end: datetime
    gpu_seconds: int
    list_unit_price: Decimal  # EUR per GPU-hour
    contracted_unit_price: Decimal
    billed: Decimal
    effective: Decimal
    energy_kwh: float
    co2e_kg: float


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(x: Decimal) -> str:
    return str(x.quantize(MICRO))


def focus_row(c: FocusCharge) -> dict[str, str]:
    period = month_bounds(f"{c.start.year:04d}-{c.start.month:02d}")
    hours = Decimal(c.gpu_seconds) / 3600
    pricing = "Committed" if c.billed == 0 and c.effective > 0 else "Standard"
    return {
        "BilledCost": _money(c.billed), "EffectiveCost": _money(c.effective),
        "ListCost": _money(hours * c.list_unit_price), "ContractedCost": _money(hours * c.contracted_unit_price),
        "BillingCurrency": "EUR", "BillingAccountId": c.org_id, "BillingAccountName": c.org_name,
        "BillingPeriodStart": _iso(period[0]), "BillingPeriodEnd": _iso(period[1]),
        "ChargePeriodStart": _iso(c.start), "ChargePeriodEnd": _iso(c.end), "ChargeCategory": "Usage",
        "ChargeClass": "", "ChargeDescription": f"{c.gpus} GPUs, {c.tier} tier, {c.site}",
        "ChargeFrequency": "Usage-Based", "PricingCategory": pricing, "PricingQuantity": str(hours.quantize(MICRO)),
        "PricingUnit": "GPU-Hours", "ListUnitPrice": str(c.list_unit_price),
        "ContractedUnitPrice": str(c.contracted_unit_price), "ConsumedQuantity": str(hours.quantize(MICRO)),
        "ConsumedUnit": "GPU-Hours", "ProviderName": PROVIDER, "PublisherName": PROVIDER,
        "InvoiceIssuerName": PROVIDER, "ServiceCategory": "AI and Machine Learning", "ServiceName": "GPU Compute",
        "SkuId": f"gpu-{c.tier}", "SkuPriceId": f"gpu-{c.tier}-{c.site}", "ResourceId": f"{c.job_id}/{c.attempt}",
        "ResourceName": c.job_name, "ResourceType": "Job", "Region": c.region, "RegionId": c.site,
        "RegionName": c.region, "SubAccountId": c.project_id, "SubAccountName": c.project,
        "Tags": "{}", "x_Tier": c.tier, "x_Attempt": str(c.attempt), "x_GpuCount": str(c.gpus),
        "x_GpuSeconds": str(c.gpu_seconds), "x_EnergyKWh": f"{c.energy_kwh:.6f}", "x_CarbonKgCO2e": f"{c.co2e_kg:.6f}",
    }  # fmt: skip


def to_csv(charges: Iterable[FocusCharge], extra: Iterable[dict[str, str]] = ()) -> str:
    """GPU charges, then `extra` rows in the same columns (inference tokens)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for c in charges:
        writer.writerow(focus_row(c))
    writer.writerows(extra)
    return buf.getvalue()
