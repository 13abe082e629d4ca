"""Wire models for capacity reservations."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from brique.domain.reservations import Reservation
from brique.schemas.base import StrictModel


class ReservationRequest(StrictModel):
    org: str = Field(description="org name or id")
    gpus: int = Field(default=0, ge=0, le=1_000_000, description="GPUs to hold (or give racks)")
    racks: int = Field(default=0, ge=0, le=10_000, description="whole racks to hold (or give gpus)")
    site: str | None = Field(default=None, description="a site id (or give country)")
    country: str | None = Field(default=None, min_length=2, max_length=2, description="ISO country: any site there")
    starts_at: AwareDatetime = Field(alias="from", description="window start (UTC offset required)")
    ends_at: AwareDatetime = Field(alias="to", description="window end, exclusive")

    model_config = StrictModel.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _one_each(self) -> ReservationRequest:
        if (self.gpus > 0) == (self.racks > 0):
            raise ValueError("give either gpus or racks (one of them, > 0)")
        if (self.site is None) == (self.country is None):
            raise ValueError("give either site or country")
        if self.ends_at <= self.starts_at:
            raise ValueError("'to' must be after 'from'")
        return self


class ReservationResponse(BaseModel):
    id: str
    org_id: str
    site: str
    gpus: int
    racks: list[str]
    starts_at: datetime
    ends_at: datetime
    state: str
    requested_by: str
    approved_by: str | None

    @classmethod
    def from_domain(cls, r: Reservation) -> ReservationResponse:
        return cls(id=r.id, org_id=r.org_id, site=r.site, gpus=r.gpus, racks=list(r.racks), starts_at=r.starts_at,
                   ends_at=r.ends_at, state=r.state.value, requested_by=r.requested_by,
                   approved_by=r.approved_by)  # fmt: skip
