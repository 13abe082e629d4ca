"""Wire models for residency policies, the lockbox, secrets, audit and evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from brique.domain.policy import PlacementPolicy
from brique.schemas.base import Bool, Int, StrictModel


class PolicyModel(StrictModel):
    countries: list[str] | None = Field(default=None, description="ISO codes; None: any")
    certifications: list[str] = Field(default_factory=list)
    sites: list[str] | None = None
    eu_only: Bool = False
    operator_in_eu: Bool = False
    name: str = Field(default="", max_length=100)

    def to_domain(self) -> PlacementPolicy:
        return PlacementPolicy(countries=self.countries, certifications=self.certifications, sites=self.sites,
                               eu_only=self.eu_only, operator_in_eu=self.operator_in_eu, name=self.name)  # fmt: skip

    @classmethod
    def from_domain(cls, p: PlacementPolicy) -> PolicyModel:
        return cls(countries=sorted(p.countries) if p.countries is not None else None,
                   certifications=sorted(p.certifications), sites=sorted(p.sites) if p.sites is not None else None,
                   eu_only=p.eu_only, operator_in_eu=p.operator_in_eu, name=p.label)  # fmt: skip


class PolicyResponse(BaseModel):
    policy: PolicyModel
    effective: PolicyModel


class PolicyChangeResponse(PolicyResponse):
    pending_narrowed: list[str] = Field(description="pending jobs now held to the new policy")
    running_outside: list[str] = Field(description="running jobs outside it: listed, not moved")


class AccessRequestCreate(StrictModel):
    scope: str = Field(description="job | project")
    scope_id: str
    justification: str = Field(max_length=2000)
    duration_s: Int = Field(default=3600, description="at most 8 h (28800 s)")
    break_glass: Bool = Field(default=False, description="incident access: a second operator confirms")


class AccessDecision(StrictModel):
    reason: str | None = Field(default=None, max_length=1000)


class AccessRequestResponse(BaseModel):
    id: str
    org_id: str
    scope: str
    scope_id: str
    justification: str
    duration_s: int
    requested_by: str
    requested_at: datetime
    status: str = Field(description="pending | approved | denied | revoked | expired")
    break_glass: bool
    decided_by: str | None
    decided_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class NotificationResponse(BaseModel):
    id: int
    at: datetime
    kind: str
    message: str


class SecretPut(StrictModel):
    value: str = Field(description="stored encrypted; never returned")


class SecretResponse(BaseModel):
    name: str
    updated_at: datetime
    updated_by: str


class AuditVerifyResponse(BaseModel):
    ok: bool
    checked: int
    first_bad: int | None
    problem: str
    head_seq: int
    checkpoints_ok: bool
    tree_size: int = 0
    signed_heads: int = Field(default=0, description="signed tree heads checked against the records")


class TreeHeadResponse(BaseModel):
    """A signed tree head (docs/sovereignty.md): Ed25519 over the canonical JSON of every field but `signature`."""

    format: str
    tree_size: int
    root_hash: str = Field(description="hex SHA-256 Merkle root (RFC 9162)")
    timestamp: str
    key_id: str
    signature: str = Field(description="base64 Ed25519")


class ConsistencyResponse(BaseModel):
    first: int
    second: int
    proof: list[str] = Field(description="hex hashes, RFC 9162 2.1.4")


class InclusionResponse(BaseModel):
    seq: int
    tree_size: int
    proof: list[str] = Field(description="hex hashes, RFC 9162 2.1.3 (leaf index = seq - 1)")


class PlatformKeyResponse(BaseModel):
    key_id: str
    algorithm: str
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 key")
    fingerprint: str = Field(description="hex SHA-256 of the raw key: compare and pin it")
    not_before: str
    not_after: str | None
    status: str = Field(description="current | retired")


class SignedDocument(BaseModel):
    """A signed JSON document (evidence report, deletion certificate, audit export)."""

    model_config = {"extra": "allow"}
    signature: dict[str, Any] | None = None
