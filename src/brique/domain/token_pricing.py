"""Token prices (EUR per 1M tokens) and what inference usage costs: invoice lines and FOCUS rows.

The price book's optional `tokens` section:

    tokens:                         # EUR per 1M tokens, input (prompt) and output (completion)
      default: {input: "0.20", output: "0.60"}
      models: {all-minilm-l6-v2: {input: "0.02", output: "0"}}

GPU-seconds of replicas stay metered and billed as any job's; tokens are billed on top (an operator
who sells serving by the token alone prices replicas' tier at 0 for those orgs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from brique.domain.inference import TokenTotals

MILLION = Decimal(1_000_000)
TOKEN_KEYS = frozenset({"default", "models"})


@dataclass(frozen=True, slots=True)
class TokenPrice:
    input_per_m: Decimal = Decimal(0)
    output_per_m: Decimal = Decimal(0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> Decimal:
        return (self.input_per_m * prompt_tokens + self.output_per_m * completion_tokens) / MILLION


def price_for(prices: Mapping[str, TokenPrice], model: str) -> TokenPrice:
    """The model's own price, else the default, else free (no `tokens` section)."""
    return prices.get(f"model:{model}") or prices.get("default") or TokenPrice()


def parse_token_prices(
    doc: Any, add: Callable[[str, str], None], money: Callable[[Any, str], Decimal | None]
) -> dict[str, TokenPrice]:
    """`tokens` of a price book: {"default": …, "model:<id>": …}; problems reported through `add`."""
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        add("tokens", "must be a mapping with 'default' and/or 'models'")
        return {}
    for key in doc:
        if key not in TOKEN_KEYS:
            add(f"tokens.{key}", "unknown field (one of default, models)")
    out: dict[str, TokenPrice] = {}
    if "default" in doc:
        out["default"] = _price(doc["default"], "tokens.default", add, money)
    models = doc.get("models") or {}
    if not isinstance(models, Mapping):
        add("tokens.models", "must be a mapping of model id to {input, output}")
        models = {}
    for model, value in models.items():
        out[f"model:{model}"] = _price(value, f"tokens.models.{model}", add, money)
    return out


def _price(doc: Any, path: str, add: Callable[[str, str], None], money: Callable[[Any, str], Decimal | None]) -> TokenPrice:
    if not isinstance(doc, Mapping):
        add(path, "must be a mapping {input, output} of EUR per 1M tokens")
        return TokenPrice()
    for key in doc:
        if key not in ("input", "output"):
            add(f"{path}.{key}", "unknown field (one of input, output)")
    return TokenPrice(money(doc.get("input", "0"), f"{path}.input") or Decimal(0),
                      money(doc.get("output", "0"), f"{path}.output") or Decimal(0))  # fmt: skip


@dataclass(frozen=True, slots=True)
class TokenCharge:
    """Tokens of one (project, deployment) over a period, priced."""

    org_id: str
    project_id: str
    deployment_id: str
    deployment: str
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    price: TokenPrice
    start: datetime
    end: datetime
    project: str = ""  # the project's name, where the caller knows it

    @property
    def cost(self) -> Decimal:
        return self.price.cost(self.prompt_tokens, self.completion_tokens)


def token_charges(
    totals: Iterable[TokenTotals], models: Mapping[str, str], prices: Mapping[str, TokenPrice],
    start: datetime, end: datetime,
) -> list[TokenCharge]:  # fmt: skip
    """Totals per key summed per (project, deployment) and priced by the deployment's model."""
    acc: dict[tuple[str, str, str], list[int]] = {}
    names: dict[str, str] = {}
    for t in totals:
        row = acc.setdefault((t.org_id, t.project_id, t.deployment_id), [0, 0, 0])
        row[0] += t.requests
        row[1] += t.prompt_tokens
        row[2] += t.completion_tokens
        names[t.deployment_id] = t.deployment_name
    out = []
    for (org, project, dep), (n, prompt, completion) in sorted(acc.items()):
        model = models.get(dep, names[dep])
        out.append(TokenCharge(org, project, dep, names[dep], model, n, prompt, completion,
                               price_for(prices, model), start, end))  # fmt: skip
    return out


def focus_token_rows(c: TokenCharge, org_name: str, period: tuple[datetime, datetime]) -> list[dict[str, str]]:
    """FOCUS rows of one deployment's tokens (input and output), in the GPU rows' columns."""
    rows = []
    for what, n, price in (("input", c.prompt_tokens, c.price.input_per_m),
                           ("output", c.completion_tokens, c.price.output_per_m)):  # fmt: skip
        if not n:
            continue
        cost = str((price * n / MILLION).quantize(MICRO))
        rows.append({
            "BilledCost": cost, "EffectiveCost": cost, "ListCost": cost, "ContractedCost": cost,
            "BillingCurrency": "EUR", "BillingAccountId": c.org_id, "BillingAccountName": org_name,
            "BillingPeriodStart": _iso(period[0]), "BillingPeriodEnd": _iso(period[1]),
            "ChargePeriodStart": _iso(c.start), "ChargePeriodEnd": _iso(c.end), "ChargeCategory": "Usage",
            "ChargeClass": "", "ChargeDescription": f"{c.deployment} ({c.model}): {n} {what} tokens",
            "ChargeFrequency": "Usage-Based", "PricingCategory": "Standard",
            "PricingQuantity": str((Decimal(n) / MILLION).quantize(MICRO)), "PricingUnit": "1M Tokens",
            "ListUnitPrice": str(price), "ContractedUnitPrice": str(price), "ConsumedQuantity": str(n),
            "ConsumedUnit": "Tokens", "ProviderName": "Brique", "PublisherName": "Brique",
            "InvoiceIssuerName": "Brique", "ServiceCategory": "AI and Machine Learning",
            "ServiceName": "Model Inference", "SkuId": f"tokens-{what}", "SkuPriceId": f"tokens-{what}-{c.model}",
            "ResourceId": c.deployment_id, "ResourceName": c.deployment, "ResourceType": "Deployment",
            "Region": "", "RegionId": "", "RegionName": "", "SubAccountId": c.project_id,
            "SubAccountName": c.project or c.project_id, "Tags": "{}", "x_Tier": "", "x_Attempt": "",
            "x_GpuCount": "", "x_GpuSeconds": "0", "x_EnergyKWh": "0.000000", "x_CarbonKgCO2e": "0.000000",
        })  # fmt: skip
    return rows


MICRO = Decimal("0.000001")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
