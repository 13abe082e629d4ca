"""SDK calls for the sovereignty controls, mixed into `brique.sdk.Client`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brique.schemas.sovereignty import (
        AccessRequestResponse,
        AuditVerifyResponse,
        ConsistencyResponse,
        NotificationResponse,
        PlatformKeyResponse,
        PolicyChangeResponse,
        PolicyResponse,
        SecretResponse,
        TreeHeadResponse,
    )


class SovereigntyMixin:
    """Residency policies, the lockbox, secrets, audit and evidence (mixed into `Client`)."""

    _call: Any

    def get_policy(self, org: str, project: str | None = None) -> PolicyResponse:
        from brique.schemas.sovereignty import PolicyResponse

        path = f"/v1/orgs/{org}/projects/{project}/policy" if project else f"/v1/orgs/{org}/policy"
        return self._call("GET", path, PolicyResponse)

    def set_policy(
        self, org: str, policy: dict[str, Any], project: str | None = None
    ) -> PolicyChangeResponse:
        from brique.schemas.sovereignty import PolicyChangeResponse, PolicyModel

        path = f"/v1/orgs/{org}/projects/{project}/policy" if project else f"/v1/orgs/{org}/policy"
        return self._call("PUT", path, PolicyChangeResponse, PolicyModel.model_validate(policy))

    def request_access(
        self, scope: str, scope_id: str, justification: str, duration_s: int = 3600, break_glass: bool = False
    ) -> AccessRequestResponse:
        from brique.schemas.sovereignty import AccessRequestCreate, AccessRequestResponse

        body = AccessRequestCreate(scope=scope, scope_id=scope_id, justification=justification,
                                   duration_s=duration_s, break_glass=break_glass)  # fmt: skip
        return self._call("POST", "/v1/access-requests", AccessRequestResponse, body)

    def access_requests(self, org: str | None = None) -> list[AccessRequestResponse]:
        from brique.schemas.sovereignty import AccessRequestResponse

        return self._call("GET", "/v1/access-requests", list[AccessRequestResponse], org=org)

    def decide_access(self, request_id: str, verb: str, reason: str | None = None) -> AccessRequestResponse:
        """verb: approve | deny | revoke | confirm (break-glass, by a second operator)."""
        from brique.schemas.sovereignty import AccessDecision, AccessRequestResponse

        body = AccessDecision(reason=reason) if verb in ("approve", "deny") else None
        return self._call("POST", f"/v1/access-requests/{request_id}/{verb}", AccessRequestResponse, body)

    def notifications(self) -> list[NotificationResponse]:
        from brique.schemas.sovereignty import NotificationResponse

        return self._call("GET", "/v1/notifications", list[NotificationResponse])

    def put_secret(self, org: str, name: str, value: str) -> None:
        from brique.schemas.sovereignty import SecretPut

        self._call("PUT", f"/v1/orgs/{org}/secrets/{name}", type(None), SecretPut(value=value))

    def list_secrets(self, org: str) -> list[SecretResponse]:
        from brique.schemas.sovereignty import SecretResponse

        return self._call("GET", f"/v1/orgs/{org}/secrets", list[SecretResponse])

    def delete_secret(self, org: str, name: str) -> None:
        self._call("DELETE", f"/v1/orgs/{org}/secrets/{name}", type(None))

    def destroy_tenant_key(self, org: str, confirm: str | None = None) -> dict[str, Any]:
        """Tenant-admin: erased at once. Operators: a pending request, then a second operator's `confirm`."""
        return self._call("POST", f"/v1/orgs/{org}/crypto-erase", dict[str, Any], confirm=confirm)

    def verify_audit(self) -> AuditVerifyResponse:
        from brique.schemas.sovereignty import AuditVerifyResponse

        return self._call("GET", "/v1/audit/verify", AuditVerifyResponse)

    def export_audit(self, org: str | None = None) -> dict[str, Any]:
        return self._call("GET", "/v1/audit/export", dict[str, Any], org=org)

    def sovereignty_report(self, org: str, since: str, until: str) -> dict[str, Any]:
        params = {"from": since, "to": until}
        return self._call("GET", "/v1/sovereignty/report", dict[str, Any], org=org, **params)

    def audit_tree_head(self) -> TreeHeadResponse:
        from brique.schemas.sovereignty import TreeHeadResponse

        return self._call("GET", "/v1/audit/tree-head", TreeHeadResponse)

    def audit_consistency(self, first: int, second: int) -> ConsistencyResponse:
        from brique.schemas.sovereignty import ConsistencyResponse

        return self._call("GET", "/v1/audit/consistency", ConsistencyResponse, first=first, second=second)

    def platform_keys(self) -> list[PlatformKeyResponse]:
        from brique.schemas.sovereignty import PlatformKeyResponse

        return self._call("GET", "/v1/platform/keys", list[PlatformKeyResponse])

    def rotate_platform_key(self) -> PlatformKeyResponse:
        from brique.schemas.sovereignty import PlatformKeyResponse

        return self._call("POST", "/v1/platform/keys/rotate", PlatformKeyResponse)
