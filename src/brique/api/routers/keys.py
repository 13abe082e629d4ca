"""API keys and the caller's identity."""

from __future__ import annotations

from fastapi import APIRouter, status

from brique.api.deps import Caller, Tenancy
from brique.schemas.tenancy import (
    KeyCreatedResponse,
    KeyCreateRequest,
    KeyResponse,
    UserCreateRequest,
    UserResponse,
    WhoAmIResponse,
)

router = APIRouter(prefix="/v1", tags=["tenancy"])


@router.get("/whoami", operation_id="whoAmI")
def whoami(who: Caller, tenancy: Tenancy) -> WhoAmIResponse:
    org = tenancy.get_org(who, who.org_id) if who.org_id else None
    return WhoAmIResponse(user_id=who.user_id, key_id=who.key_id, role=who.role, org_id=who.org_id,
                          org_name=org.name if org else None)  # fmt: skip


@router.post("/keys", operation_id="createKey", status_code=status.HTTP_201_CREATED)
def create_key(body: KeyCreateRequest, who: Caller, tenancy: Tenancy) -> KeyCreatedResponse:
    new = tenancy.create_key(who, body.user_id, body.name, body.expires_days)
    return KeyCreatedResponse.from_new(new.key, new.token)


@router.get("/keys", operation_id="listKeys")
def list_keys(who: Caller, tenancy: Tenancy, org: str | None = None) -> list[KeyResponse]:
    return [KeyResponse.from_domain(k) for k in tenancy.list_keys(who, org)]


@router.delete("/keys/{key_id}", operation_id="revokeKey")
def revoke_key(key_id: str, who: Caller, tenancy: Tenancy) -> KeyResponse:
    return KeyResponse.from_domain(tenancy.revoke_key(who, key_id))


@router.post("/operators", operation_id="createOperatorUser", status_code=status.HTTP_201_CREATED)
def create_operator_user(body: UserCreateRequest, who: Caller, tenancy: Tenancy) -> UserResponse:
    return UserResponse.from_domain(tenancy.create_user(who, None, body.email, body.role))


@router.get("/operators", operation_id="listOperatorUsers")
def list_operator_users(who: Caller, tenancy: Tenancy) -> list[UserResponse]:
    return [UserResponse.from_domain(u) for u in tenancy.list_operator_users(who)]
