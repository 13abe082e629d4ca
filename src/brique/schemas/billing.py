"""Wire models for usage, invoices, budgets and alerts (shared by the server and the SDK)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from brique.schemas.base import Bool, Int, Money, StrictModel


class FootprintModel(BaseModel):
    gpu_seconds: int = 0
    energy_kwh: float = Field(0.0, description="facility energy: IT energy x site PUE")
    co2e_kg: float = 0.0


class UsageRecordResponse(BaseModel):
    job_id: str
    job_name: str
    attempt: int
    project: str
    tier: str
    site: str
    gpus: int
    start: datetime
    end: datetime
    running: bool = Field(description="the attempt still holds its GPUs (end = now)")
    gpu_seconds: int
    energy_kwh: float
    co2e_kg: float
    billed_cost: Decimal = Field(description="EUR, unrounded (the invoice rounds per line)")
    effective_cost: Decimal


class TokenUsageResponse(BaseModel):
    """Inference tokens of one gateway key on one deployment over the period."""

    project_id: str
    deployment_id: str
    deployment: str
    key_id: str
    requests: int
    prompt_tokens: int
    completion_tokens: int


class UsageResponse(BaseModel):
    org: str
    start: datetime
    end: datetime
    currency: str = "EUR"
    records: list[UsageRecordResponse]
    total: FootprintModel
    billed_cost: Decimal
    tokens: list[TokenUsageResponse] = Field(default_factory=list, description="inference, per key and deployment")
    token_cost: Decimal = Field(default=Decimal(0), description="EUR for inference tokens (price book)")


class InvoiceLineResponse(BaseModel):
    kind: str = Field(description="commitment | usage | included | overage")
    description: str
    project: str | None
    tier: str | None
    site: str | None
    gpu_seconds: int
    gpu_hours: Decimal
    unit_price: Decimal = Field(description="EUR per GPU-hour (commitment: the monthly amount)")
    amount: Decimal
    energy_kwh: float
    co2e_kg: float


class InvoiceResponse(BaseModel):
    org: str
    country: str
    month: str
    currency: str
    lines: list[InvoiceLineResponse]
    subtotal: Decimal
    vat_country: str
    vat_percent: Decimal
    vat_amount: Decimal
    total: Decimal
    energy_kwh: float
    co2e_kg: float
    notes: list[str]
    contract_version: int | None = Field(None, description="the org's contract version whose terms priced it")


class BudgetRequest(StrictModel):
    project: str | None = Field(None, description="a project name; none: the whole organization")
    amount: Money = Field(gt=0, description="EUR per calendar month (UTC), cents at most")
    thresholds: list[Int] = Field(
        default_factory=lambda: [50, 80, 100], description="alert at these percents"
    )
    hard_stop: Bool = Field(False, description="refuse new jobs (every tier the contract does not exempt) once the budget is spent")
    webhook_url: str | None = Field(
        None, max_length=2000, description="POSTed a JSON alert at each threshold"
    )


class BudgetResponse(BaseModel):
    org_id: str
    project: str | None
    amount: Decimal
    currency: str
    thresholds: list[int]
    hard_stop: bool
    webhook_url: str | None
    month: str
    spent: Decimal
    percent: Decimal
    exceeded: bool


class BudgetAlertResponse(BaseModel):
    id: int
    org_id: str
    project_id: str | None
    month: str
    threshold: int
    spent: Decimal
    amount: Decimal
    at: datetime
    message: str
    webhook_status: str | None


class IdleSiteResponse(BaseModel):
    site: str
    capacity_gpu_seconds: int
    busy_gpu_seconds: int
    idle_energy_kwh: float
    idle_co2e_kg: float
