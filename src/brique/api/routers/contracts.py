"""Capacity contracts of an organization (set by operators, readable by the tenant)."""

from __future__ import annotations

from fastapi import APIRouter

from brique.api.deps import Caller, Contracts
from brique.schemas.tenancy import ContractResponse, ContractsRequest
from brique.services.contracts import ContractTerms
from brique.store.tables import ContractRow

router = APIRouter(prefix="/v1/orgs", tags=["contracts"])


def _response(row: ContractRow) -> ContractResponse:
    return ContractResponse(
        org_id=row.org_id,
        site=row.site_id,
        guaranteed_gpus=row.guaranteed_gpus,
        weight=row.weight,
        may_borrow=row.may_borrow,
        borrow_cap=row.borrow_cap,
        updated_at=row.updated_at,
    )


@router.put("/{org}/contracts", operation_id="setContracts")
def set_contracts(
    org: str, body: ContractsRequest, who: Caller, contracts: Contracts
) -> list[ContractResponse]:
    terms = [ContractTerms(**c.model_dump()) for c in body.contracts]
    return [_response(r) for r in contracts.replace(who, org, terms)]


@router.get("/{org}/contracts", operation_id="listContracts")
def list_contracts(org: str, who: Caller, contracts: Contracts) -> list[ContractResponse]:
    return [_response(r) for r in contracts.list(who, org)]
