"""Wire models for organizations, projects, users and API keys."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from brique.domain.contracts import Contract, ContractRecord, ContractVersion, rates_of
from brique.domain.tenancy import ApiKey, Organization, Project, Role, User
from brique.schemas.base import Bool, Float, Int, Money, StrictModel

Rate = Annotated[Decimal, Field(ge=0, le=100000, decimal_places=4, allow_inf_nan=False)]  # EUR per GPU-hour


class OrgCreateRequest(StrictModel):
    name: str = Field(description="unique slug: lowercase letters, digits, '-'")
    display_name: str | None = Field(default=None, max_length=200)
    country: str = Field(default="FR", description="ISO 3166-1 alpha-2 country of the tenant")
    admin_email: str | None = Field(default=None, description="create a tenant-admin user and return a key")


class OrgResponse(BaseModel):
    id: str
    name: str
    display_name: str
    country: str
    created_at: datetime
    suspended_at: datetime | None = Field(default=None, description="set while an operator suspends the org")
    suspended_reason: str | None = None

    @classmethod
    def from_domain(cls, org: Organization) -> OrgResponse:
        return cls(id=org.id, name=org.name, display_name=org.display_name, country=org.country,
                   created_at=org.created_at, suspended_at=org.suspended_at,
                   suspended_reason=org.suspended_reason)  # fmt: skip


class OrgSuspendRequest(StrictModel):
    reason: str = Field(min_length=1, max_length=500, description="why (kept in the audit log)")


class OrgResumeRequest(StrictModel):
    reason: str | None = Field(default=None, max_length=500, description="why (kept in the audit log)")


class UserResponse(BaseModel):
    id: str
    org_id: str | None
    email: str
    role: Role
    created_at: datetime

    @classmethod
    def from_domain(cls, user: User) -> UserResponse:
        return cls(
            id=user.id, org_id=user.org_id, email=user.email, role=user.role, created_at=user.created_at
        )


class KeyResponse(BaseModel):
    """An API key's metadata. The secret is never part of it."""

    id: str
    user_id: str
    name: str
    prefix: str = Field(description="the public start of the token, to recognise it")
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def from_domain(cls, key: ApiKey) -> KeyResponse:
        return cls(
            id=key.id, user_id=key.user_id, name=key.name, prefix=f"brq_{key.lookup}",
            created_at=key.created_at, expires_at=key.expires_at, revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )  # fmt: skip


class KeyCreatedResponse(KeyResponse):
    token: str = Field(description="the API key itself: shown once, store it now")

    @classmethod
    def from_new(cls, key: ApiKey, token: str) -> KeyCreatedResponse:
        return cls(**KeyResponse.from_domain(key).model_dump(), token=token)


class OrgCreatedResponse(BaseModel):
    org: OrgResponse
    admin: UserResponse | None = None
    admin_key: KeyCreatedResponse | None = None


class ProjectCreateRequest(StrictModel):
    name: str
    description: str = Field(default="", max_length=500)


class ProjectResponse(BaseModel):
    id: str
    org_id: str
    name: str
    description: str
    created_at: datetime

    @classmethod
    def from_domain(cls, p: Project) -> ProjectResponse:
        return cls(id=p.id, org_id=p.org_id, name=p.name, description=p.description, created_at=p.created_at)


class UserCreateRequest(StrictModel):
    email: str
    role: Role = Role.TENANT_MEMBER


class KeyCreateRequest(StrictModel):
    name: str = Field(default="default", max_length=100)
    user_id: str | None = Field(default=None, description="whose key; default: the caller's own")
    expires_days: Int | None = Field(default=None, ge=1, le=3650)


class WhoAmIResponse(BaseModel):
    user_id: str
    key_id: str
    role: Role
    org_id: str | None
    org_name: str | None = None


class ContractRequest(StrictModel):
    guaranteed_gpus: Int = Field(default=0, ge=0, description="priority-tier GPUs always available")
    weight: Float = Field(default=1.0, gt=0, le=1000, description="fair-share weight for idle capacity")
    may_borrow: Bool = Field(default=True, description="may use idle capacity beyond the guarantee")
    borrow_cap: Int | None = Field(default=None, ge=0, description="most GPUs beyond the guarantee at once")
    site: str | None = Field(default=None, description="a site id; empty: fleet-wide")
    monthly_commitment: Money = Field(default=Decimal(0), ge=0, description="EUR per month, billed used or not")
    rates: dict[Literal["priority", "standard", "preemptible"], Rate] = Field(
        default_factory=dict, description="agreed EUR per GPU-hour by tier (others: list price)")
    overage_rate: Rate | None = Field(default=None, ge=0, description="priority beyond the commitment")
    currency: Literal["EUR"] = "EUR"
    starts_on: date | None = Field(default=None, description="first day of the term (inclusive)")
    ends_on: date | None = Field(default=None, description="last day of the term (inclusive)")
    budget_exempt_tiers: list[Literal["priority", "standard", "preemptible"]] = Field(
        default_factory=list, description="tiers a budget hard stop does not refuse")
    inference_requests_per_min: Int | None = Field(
        default=None, ge=1, description="the org's inference gateway requests per minute (unset: operator default)")
    inference_tokens_per_min: Int | None = Field(
        default=None, ge=1, description="the org's inference gateway tokens per minute (unset: operator default)")

    @model_validator(mode="after")
    def _consistent(self) -> ContractRequest:
        self.to_domain()  # the domain's rules (a commitment needs a priority rate, term dates in order)
        return self

    def to_domain(self, org_id: str = "") -> Contract:
        return Contract(
            tenant=org_id, guaranteed_gpus=self.guaranteed_gpus, weight=self.weight, may_borrow=self.may_borrow,
            borrow_cap=self.borrow_cap, site=self.site, monthly_commitment=self.monthly_commitment,
            rates=rates_of(self.rates), overage_rate=self.overage_rate, currency=self.currency,
            starts_on=self.starts_on, ends_on=self.ends_on, budget_exempt_tiers=frozenset(self.budget_exempt_tiers),
            inference_requests_per_min=self.inference_requests_per_min,
            inference_tokens_per_min=self.inference_tokens_per_min,
        )  # fmt: skip


class ContractsRequest(StrictModel):
    contracts: list[ContractRequest]


class ContractResponse(ContractRequest):
    org_id: str
    updated_at: datetime
    version: int = 1

    @classmethod
    def from_domain(cls, c: ContractRecord) -> ContractResponse:
        t = c.terms
        return cls(org_id=t.tenant, site=t.site, guaranteed_gpus=t.guaranteed_gpus, weight=t.weight,
                   may_borrow=t.may_borrow, borrow_cap=t.borrow_cap, updated_at=c.updated_at, version=c.version,
                   monthly_commitment=t.monthly_commitment, rates=dict(t.rates), overage_rate=t.overage_rate,
                   currency="EUR", starts_on=t.starts_on, ends_on=t.ends_on,
                   budget_exempt_tiers=sorted(t.budget_exempt_tiers),  # type: ignore[arg-type]
                   inference_requests_per_min=t.inference_requests_per_min,
                   inference_tokens_per_min=t.inference_tokens_per_min)  # fmt: skip


class ContractVersionResponse(BaseModel):
    version: int
    changed_by: str
    at: datetime
    contracts: list[ContractRequest]

    @classmethod
    def from_domain(cls, v: ContractVersion) -> ContractVersionResponse:
        rec = [ContractResponse.from_domain(ContractRecord(c, v.at, v.version)) for c in v.contracts]
        keep = set(ContractRequest.model_fields)
        return cls(version=v.version, changed_by=v.changed_by, at=v.at,
                   contracts=[ContractRequest(**r.model_dump(include=keep)) for r in rec])  # fmt: skip
