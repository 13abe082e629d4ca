"""A small, typed client over httpx that speaks the same `schemas/` as the server.

    client = Client("http://127.0.0.1:8080", api_key="brq_…")
    cap = client.fleet_capacity()
    print(cap.total_gpus)

Non-2xx answers raise `ApiError` (status, code, message, field); an unreachable
server raises `ConnectionFailed`. Both are `BriqueError`s (see `sdk/errors.py`).
"""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from brique.sdk.commerce import CommerceMixin
from brique.sdk.errors import ApiError, ConnectionFailed, api_error
from brique.sdk.sovereignty import SovereigntyMixin

if TYPE_CHECKING:
    from brique.schemas.agents import (
        AgentRegisterResponse,
        HeartbeatResponse,
        LogChunk,
        RunReportModel,
    )
    from brique.schemas.billing import (
        BudgetAlertResponse,
        BudgetRequest,
        BudgetResponse,
        InvoiceResponse,
        UsageResponse,
    )
    from brique.schemas.fleet import (
        CapacityResponse,
        NodeResponse,
        RackResponse,
        SiteResponse,
    )
    from brique.schemas.inference import DeploymentRequest, DeploymentResponse, InferenceKeyResponse
    from brique.schemas.jobs import (
        ArrayResponse,
        JobDetailResponse,
        JobEventResponse,
        JobResponse,
        JobSubmitRequest,
        SubmitResponse,
    )
    from brique.schemas.system import SystemStatusResponse
    from brique.schemas.tenancy import (
        ContractResponse,
        KeyCreatedResponse,
        KeyResponse,
        OrgCreatedResponse,
        OrgResponse,
        ProjectResponse,
        UserResponse,
        WhoAmIResponse,
    )

T = TypeVar("T")
RETRYABLE = frozenset({502, 503, 504})  # calls made with retries (idempotent ones) try again on these


def _hint(url: str, exc: httpx.TransportError) -> str:
    """A plaintext request to a TLS port is dropped without an answer: say what it likely means."""
    if url.startswith("http://") and isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return "; the server closed the connection without answering: it may serve HTTPS only (use an https:// URL)"
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return "; the server's certificate is not signed by a trusted CA (give its CA file)"
    return ""


class Client(SovereigntyMixin, CommerceMixin):
    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        headers = {"User-Agent": "brique-sdk/0.1"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.url = url.rstrip("/")
        if verify is True and self.url.startswith("http://"):
            # No TLS is ever spoken to a plaintext base URL (paths are relative, redirects are not
            # followed), so skip loading the CA bundle: ~100 ms of every CLI command.
            verify = False
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport, verify=verify
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        kind: Any,
        body: BaseModel | None = None,
        *,
        headers: dict[str, str] | None = None,
        retries: int = 0,
        **params: Any,
    ) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        payload = body.model_dump(mode="json", exclude_none=True) if body is not None else None
        for attempt in range(retries + 1):
            try:
                response = self._http.request(method, path, json=payload, params=query, headers=headers)
            except httpx.TransportError as exc:
                if attempt == retries:
                    raise ConnectionFailed(
                        f"cannot reach the Brique server at {self.url} ({exc}){_hint(self.url, exc)}"
                    ) from exc
            else:  # a load balancer's 502/503/504 (a replica died mid-request) is worth another try
                if response.status_code not in RETRYABLE or attempt == retries:
                    break
            time.sleep(min(0.25 * 2**attempt, 2.0))
        if response.status_code >= 400:
            raise _api_error(response)
        if response.status_code == 204 or not response.content:
            return None
        return TypeAdapter(kind).validate_python(response.json())

    # -- health and identity --------------------------------------------------------------------

    def healthz(self) -> dict[str, str]:
        return self._call("GET", "/healthz", dict[str, str])

    def whoami(self) -> WhoAmIResponse:
        from brique.schemas.tenancy import WhoAmIResponse

        return self._call("GET", "/v1/whoami", WhoAmIResponse)

    def system_status(self) -> SystemStatusResponse:
        """Operators: the replica that answered, whether it leads, and the leader of record."""
        from brique.schemas.system import SystemStatusResponse

        return self._call("GET", "/v1/system/status", SystemStatusResponse, retries=2)

    # -- fleet ----------------------------------------------------------------------------------

    def fleet_capacity(self) -> CapacityResponse:
        from brique.schemas.fleet import CapacityResponse

        return self._call("GET", "/v1/fleet/capacity", CapacityResponse)

    def sites(self) -> list[SiteResponse]:
        from brique.schemas.fleet import SiteResponse

        return self._call("GET", "/v1/fleet/sites", list[SiteResponse])

    def site(self, site_id: str) -> SiteResponse:
        from brique.schemas.fleet import SiteResponse

        return self._call("GET", f"/v1/fleet/sites/{site_id}", SiteResponse)

    def racks(self, site: str | None = None) -> list[RackResponse]:
        from brique.schemas.fleet import RackResponse

        return self._call("GET", "/v1/fleet/racks", list[RackResponse], site=site)

    def nodes(
        self, site: str | None = None, rack: str | None = None, state: str | None = None, limit: int = 500
    ) -> list[NodeResponse]:
        from brique.schemas.fleet import NodeResponse

        return self._call(
            "GET", "/v1/fleet/nodes", list[NodeResponse], site=site, rack=rack, state=state, limit=limit
        )

    def set_node_state(self, node_id: str, state: str, reason: str | None = None) -> NodeResponse:
        from brique.schemas.fleet import NodeResponse, NodeStateRequest

        body = NodeStateRequest(state=state, reason=reason)  # type: ignore[arg-type]
        return self._call("PUT", f"/v1/fleet/nodes/{node_id}/state", NodeResponse, body)

    # -- tenancy --------------------------------------------------------------------------------

    def create_org(
        self,
        name: str,
        *,
        display_name: str | None = None,
        country: str = "FR",
        admin_email: str | None = None,
    ) -> OrgCreatedResponse:
        from brique.schemas.tenancy import OrgCreatedResponse, OrgCreateRequest

        body = OrgCreateRequest(
            name=name, display_name=display_name, country=country, admin_email=admin_email
        )
        return self._call("POST", "/v1/orgs", OrgCreatedResponse, body)

    def list_orgs(self) -> list[OrgResponse]:
        from brique.schemas.tenancy import OrgResponse

        return self._call("GET", "/v1/orgs", list[OrgResponse])

    def get_org(self, org: str) -> OrgResponse:
        from brique.schemas.tenancy import OrgResponse

        return self._call("GET", f"/v1/orgs/{org}", OrgResponse)

    def suspend_org(self, org: str, reason: str) -> OrgResponse:
        """Operator admins: refuse every key of the org's users until `resume_org`."""
        from brique.schemas.tenancy import OrgResponse, OrgSuspendRequest

        return self._call("POST", f"/v1/orgs/{org}/suspend", OrgResponse, OrgSuspendRequest(reason=reason))

    def resume_org(self, org: str, reason: str | None = None) -> OrgResponse:
        from brique.schemas.tenancy import OrgResponse, OrgResumeRequest

        body = OrgResumeRequest(reason=reason) if reason is not None else None
        return self._call("POST", f"/v1/orgs/{org}/resume", OrgResponse, body)

    def create_project(self, org: str, name: str, description: str = "") -> ProjectResponse:
        from brique.schemas.tenancy import ProjectCreateRequest, ProjectResponse

        body = ProjectCreateRequest(name=name, description=description)
        return self._call("POST", f"/v1/orgs/{org}/projects", ProjectResponse, body)

    def list_projects(self, org: str) -> list[ProjectResponse]:
        from brique.schemas.tenancy import ProjectResponse

        return self._call("GET", f"/v1/orgs/{org}/projects", list[ProjectResponse])

    def create_user(self, org: str | None, email: str, role: str) -> UserResponse:
        from brique.schemas.tenancy import UserCreateRequest, UserResponse

        body = UserCreateRequest(email=email, role=role)  # type: ignore[arg-type]
        path = f"/v1/orgs/{org}/users" if org else "/v1/operators"
        return self._call("POST", path, UserResponse, body)

    def list_users(self, org: str | None) -> list[UserResponse]:
        from brique.schemas.tenancy import UserResponse

        return self._call("GET", f"/v1/orgs/{org}/users" if org else "/v1/operators", list[UserResponse])

    def create_key(
        self, name: str = "default", *, user_id: str | None = None, expires_days: int | None = None
    ) -> KeyCreatedResponse:
        from brique.schemas.tenancy import KeyCreatedResponse, KeyCreateRequest

        body = KeyCreateRequest(name=name, user_id=user_id, expires_days=expires_days)
        return self._call("POST", "/v1/keys", KeyCreatedResponse, body)

    def list_keys(self, org: str | None = None) -> list[KeyResponse]:
        from brique.schemas.tenancy import KeyResponse

        return self._call("GET", "/v1/keys", list[KeyResponse], org=org)

    def revoke_key(self, key_id: str) -> KeyResponse:
        from brique.schemas.tenancy import KeyResponse

        return self._call("DELETE", f"/v1/keys/{key_id}", KeyResponse)

    def set_contracts(self, org: str, contracts: list[dict[str, Any]]) -> list[ContractResponse]:
        from brique.schemas.tenancy import ContractResponse, ContractsRequest

        body = ContractsRequest.model_validate({"contracts": contracts})
        return self._call("PUT", f"/v1/orgs/{org}/contracts", list[ContractResponse], body)

    def list_contracts(self, org: str) -> list[ContractResponse]:
        from brique.schemas.tenancy import ContractResponse

        return self._call("GET", f"/v1/orgs/{org}/contracts", list[ContractResponse])

    # -- inference ------------------------------------------------------------------------------

    def deploy(self, spec: DeploymentRequest | dict[str, Any]) -> DeploymentResponse:
        """Create a deployment, or update the one of that name."""
        from brique.schemas.inference import DeploymentRequest, DeploymentResponse

        body = spec if isinstance(spec, DeploymentRequest) else DeploymentRequest.model_validate(spec)
        return self._call("POST", "/v1/deployments", DeploymentResponse, body)

    def list_deployments(self) -> list[DeploymentResponse]:
        from brique.schemas.inference import DeploymentResponse

        return self._call("GET", "/v1/deployments", list[DeploymentResponse])

    def get_deployment(self, name: str) -> DeploymentResponse:
        from brique.schemas.inference import DeploymentResponse

        return self._call("GET", f"/v1/deployments/{name}", DeploymentResponse)

    def scale_deployment(self, name: str, min_replicas: int, max_replicas: int) -> DeploymentResponse:
        from brique.schemas.inference import DeploymentResponse, ScaleRequest

        body = ScaleRequest(min=min_replicas, max=max_replicas)
        return self._call("POST", f"/v1/deployments/{name}/scale", DeploymentResponse, body)

    def delete_deployment(self, name: str) -> DeploymentResponse:
        from brique.schemas.inference import DeploymentResponse

        return self._call("DELETE", f"/v1/deployments/{name}", DeploymentResponse)

    def create_inference_key(
        self, name: str, deployments: list[str] | None = None, requests_per_min: int | None = None,
        tokens_per_min: int | None = None,
    ) -> InferenceKeyResponse:  # fmt: skip
        from brique.schemas.inference import InferenceKeyRequest, InferenceKeyResponse

        body = InferenceKeyRequest(name=name, deployments=deployments or [], requests_per_min=requests_per_min,
                                   tokens_per_min=tokens_per_min)  # fmt: skip
        return self._call("POST", "/v1/inference-keys", InferenceKeyResponse, body)

    def list_inference_keys(self) -> list[InferenceKeyResponse]:
        from brique.schemas.inference import InferenceKeyResponse

        return self._call("GET", "/v1/inference-keys", list[InferenceKeyResponse])

    def revoke_inference_key(self, key_id: str) -> InferenceKeyResponse:
        from brique.schemas.inference import InferenceKeyResponse

        return self._call("DELETE", f"/v1/inference-keys/{key_id}", InferenceKeyResponse)

    # -- jobs -----------------------------------------------------------------------------------

    def submit_job(
        self,
        spec: JobSubmitRequest | dict[str, Any],
        *,
        dry_run: bool = False,
        idempotency_key: str | None = None,
        array: str | None = None,
    ) -> SubmitResponse:
        """Submit a job (with `array`, e.g. "0-9999%10", a job array: `.array` of the answer). One
        Idempotency-Key per call, reused by the call's own retries, so a network failure never
        creates the job twice."""
        from brique.schemas.jobs import JobSubmitRequest, SubmitResponse

        body = spec if isinstance(spec, JobSubmitRequest) else JobSubmitRequest.model_validate(spec)
        key = idempotency_key or f"sdk-{uuid.uuid4()}"
        return self._call(
            "POST",
            "/v1/jobs",
            SubmitResponse,
            body,
            headers={"Idempotency-Key": key},
            retries=5,
            dry_run=dry_run or None,
            array=array,
        )

    def get_array(self, array_id: str) -> ArrayResponse:
        from brique.schemas.jobs import ArrayResponse

        return self._call("GET", f"/v1/arrays/{array_id}", ArrayResponse)

    def cancel_array(self, array_id: str) -> ArrayResponse:
        """Cancel every task of the array not finished yet."""
        from brique.schemas.jobs import ArrayResponse

        return self._call("POST", f"/v1/arrays/{array_id}/cancel", ArrayResponse)

    def list_jobs(
        self, project: str | None = None, states: list[str] | None = None, limit: int = 200,
        array: str | None = None,
    ) -> list[JobResponse]:  # fmt: skip
        from brique.schemas.jobs import JobResponse

        return self._call("GET", "/v1/jobs", list[JobResponse], project=project, state=states, limit=limit,
                          array=array)  # fmt: skip

    def get_job(self, job_id: str) -> JobDetailResponse:
        from brique.schemas.jobs import JobDetailResponse

        return self._call("GET", f"/v1/jobs/{job_id}", JobDetailResponse)

    def cancel_job(self, job_id: str, reason: str | None = None) -> JobResponse:
        """Cancel a job; operators must give a `reason` (the tenant is told it)."""
        from brique.schemas.jobs import JobActionRequest, JobResponse

        body = JobActionRequest(reason=reason) if reason is not None else None
        return self._call("POST", f"/v1/jobs/{job_id}/cancel", JobResponse, body)

    def suspend_job(self, job_id: str, reason: str) -> JobResponse:
        """Operators: hold a tenant's job (stopped, not scheduled) until `resume_job`."""
        from brique.schemas.jobs import JobActionRequest, JobResponse

        return self._call("POST", f"/v1/jobs/{job_id}/suspend", JobResponse, JobActionRequest(reason=reason))

    def resume_job(self, job_id: str, reason: str | None = None) -> JobResponse:
        from brique.schemas.jobs import JobActionRequest, JobResponse

        body = JobActionRequest(reason=reason) if reason is not None else None
        return self._call("POST", f"/v1/jobs/{job_id}/resume", JobResponse, body)

    def job_events(self, job_id: str) -> list[JobEventResponse]:
        from brique.schemas.jobs import JobEventResponse

        return self._call("GET", f"/v1/jobs/{job_id}/events", list[JobEventResponse])

    def events(self, limit: int = 500) -> list[JobEventResponse]:
        from brique.schemas.jobs import JobEventResponse

        return self._call("GET", "/v1/events", list[JobEventResponse], limit=limit)

    def logs(self, job_id: str, *, follow: bool = False, attempt: int | None = None) -> Iterator[bytes]:
        """The job's log, as chunks; with `follow`, until the attempt ends."""
        params = {"follow": str(follow).lower(), **({"attempt": attempt} if attempt else {})}
        try:
            with self._http.stream("GET", f"/v1/jobs/{job_id}/logs", params=params, timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _api_error(response)
                yield from response.iter_bytes()
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"cannot reach the Brique server at {self.url} ({exc})") from exc

    # -- usage, invoices, budgets ---------------------------------------------------------------

    def _text(self, path: str, **params: Any) -> str:
        try:
            response = self._http.get(path, params={k: v for k, v in params.items() if v is not None})
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"cannot reach the Brique server at {self.url} ({exc})") from exc
        if response.status_code >= 400:
            raise _api_error(response)
        return response.text

    def usage(self, start: str, end: str, org: str | None = None) -> UsageResponse:
        from brique.schemas.billing import UsageResponse

        return self._call("GET", "/v1/usage", UsageResponse, org=org, **{"from": start, "to": end})

    def usage_csv(self, start: str, end: str, org: str | None = None) -> str:
        """Usage as a CSV in the FinOps FOCUS layout."""
        return self._text("/v1/usage", org=org, format="csv", **{"from": start, "to": end})

    def invoice(self, org: str, month: str) -> InvoiceResponse:
        from brique.schemas.billing import InvoiceResponse

        return self._call("GET", f"/v1/orgs/{org}/invoices/{month}", InvoiceResponse)

    def invoice_html(self, org: str, month: str) -> str:
        return self._text(f"/v1/orgs/{org}/invoices/{month}", format="html")

    def set_budget(self, org: str, budget: BudgetRequest | dict[str, Any]) -> BudgetResponse:
        from brique.schemas.billing import BudgetRequest, BudgetResponse

        body = budget if isinstance(budget, BudgetRequest) else BudgetRequest.model_validate(budget)
        return self._call("PUT", f"/v1/orgs/{org}/budgets", BudgetResponse, body)

    def list_budgets(self, org: str) -> list[BudgetResponse]:
        from brique.schemas.billing import BudgetResponse

        return self._call("GET", f"/v1/orgs/{org}/budgets", list[BudgetResponse])

    def budget_alerts(self, org: str, limit: int = 200) -> list[BudgetAlertResponse]:
        from brique.schemas.billing import BudgetAlertResponse

        return self._call("GET", f"/v1/orgs/{org}/budget-alerts", list[BudgetAlertResponse], limit=limit)

    # -- node agents ----------------------------------------------------------------------------

    def register_agent(self, node_id: str, gpus: int, hostname: str) -> AgentRegisterResponse:
        from brique.schemas.agents import AgentRegisterRequest, AgentRegisterResponse

        body = AgentRegisterRequest(node_id=node_id, gpus=gpus, hostname=hostname)
        return self._call("POST", "/v1/agent/register", AgentRegisterResponse, body)

    def agent_heartbeat(
        self, node_id: str, reports: list[RunReportModel], logs: list[LogChunk]
    ) -> HeartbeatResponse:
        from brique.schemas.agents import HeartbeatRequest, HeartbeatResponse

        body = HeartbeatRequest(node_id=node_id, reports=reports, logs=logs)
        return self._call("POST", "/v1/agent/heartbeat", HeartbeatResponse, body)


def _api_error(response: httpx.Response) -> ApiError:
    try:
        err = response.json()["error"]
        return api_error(response.status_code, err["code"], err["message"], err.get("field"))
    except (ValueError, KeyError, TypeError):
        return api_error(
            response.status_code, "http_error", f"HTTP {response.status_code}: {response.text[:200]}"
        )
