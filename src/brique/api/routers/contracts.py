"""Capacity contracts of an organization (set by operators, readable by the tenant)."""

from __future__ import annotations

from fastapi import APIRouter

from brique.api.deps import Caller, Contracts
from brique.domain.contracts import ContractRecord
from brique.schemas.tenancy import ContractResponse, ContractsRequest
from brique.services.contracts import ContractTerms

router = APIRouter(prefix="/v1/orgs", tags=["contracts"])


def _response(c: ContractRecord) -> ContractResponse:
    return ContractResponse.from_domain(c)


@router.put("/{org}/contracts", operation_id="setContracts")
def set_contracts(
    org: str, body: ContractsRequest, who: Caller, contracts: Contracts
) -> list[ContractResponse]:
    terms = [ContractTerms(**c.model_dump()) for c in body.contracts]
    return [_response(r) for r in contracts.replace(who, org, terms)]


@router.get("/{org}/contracts", operation_id="listContracts")
def list_contracts(org: str, who: Caller, contracts: Contracts) -> list[ContractResponse]:
    return [_response(r) for r in contracts.list(who, org)]
