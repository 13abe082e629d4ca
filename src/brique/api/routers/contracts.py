"""Capacity contracts of an organization (set by operators, readable by the tenant)."""

from __future__ import annotations

from fastapi import APIRouter

from brique.api.deps import Caller, Contracts
from brique.domain.contracts import ContractRecord
from brique.schemas.tenancy import ContractResponse, ContractsRequest, ContractVersionResponse

router = APIRouter(prefix="/v1/orgs", tags=["contracts"])


def _response(c: ContractRecord) -> ContractResponse:
    return ContractResponse.from_domain(c)


@router.put("/{org}/contracts", operation_id="setContracts")
def set_contracts(
    org: str, body: ContractsRequest, who: Caller, contracts: Contracts
) -> list[ContractResponse]:
    return [_response(r) for r in contracts.replace(who, org, [c.to_domain() for c in body.contracts])]


@router.get("/{org}/contracts", operation_id="listContracts")
def list_contracts(org: str, who: Caller, contracts: Contracts) -> list[ContractResponse]:
    return [_response(r) for r in contracts.list(who, org)]


@router.get("/{org}/contracts/versions", operation_id="listContractVersions")
def contract_versions(org: str, who: Caller, contracts: Contracts) -> list[ContractVersionResponse]:
    return [ContractVersionResponse.from_domain(v) for v in contracts.versions(who, org)]
