"""Deployments (`brique deploy`) and their gateway keys under /v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from brique.api.deps import Caller, services
from brique.schemas.inference import (
    DeploymentRequest,
    DeploymentResponse,
    InferenceKeyRequest,
    InferenceKeyResponse,
    ReplicaResponse,
    ScaleRequest,
)
from brique.services.inference.deployments import DeploymentService, DeploymentSpec, DeploymentView

router = APIRouter(prefix="/v1", tags=["inference"])


def deployment_service(request: Request) -> DeploymentService:
    return services(request).inference.deployments


Deployments = Annotated[DeploymentService, Depends(deployment_service)]


def _response(view: DeploymentView) -> DeploymentResponse:
    reps = [ReplicaResponse(job_id=r.replica.job_id, state=r.job.state.value if r.job else "gone",
                            site_id=r.job.site_id if r.job else None, gpu_ids=list(r.job.gpu_ids) if r.job else [],
                            port=r.replica.port, created_at=r.replica.created_at) for r in view.replicas]  # fmt: skip
    return DeploymentResponse.from_domain(view.deployment, reps)


@router.post("/deployments", operation_id="deploy", status_code=status.HTTP_201_CREATED)
def deploy(body: DeploymentRequest, who: Caller, deployments: Deployments) -> DeploymentResponse:
    spec = DeploymentSpec(
        name=body.name, project=body.project, model=body.model, runtime=body.runtime, gpus=body.gpus,
        min_replicas=body.replicas.min, max_replicas=body.replicas.max, tier=body.tier,
        placement=body.placement.to_domain(), command=body.command, image=body.image,
        target_inflight=body.target_inflight, idle_s=body.idle_s,
    )  # fmt: skip
    dep = deployments.deploy(who, spec)
    return _response(deployments.get(who, dep.id))


@router.get("/deployments", operation_id="listDeployments")
def list_deployments(who: Caller, deployments: Deployments) -> list[DeploymentResponse]:
    return [_response(v) for v in deployments.list(who)]


@router.get("/deployments/{name}", operation_id="getDeployment")
def get_deployment(name: str, who: Caller, deployments: Deployments) -> DeploymentResponse:
    return _response(deployments.get(who, name))


@router.post("/deployments/{name}/scale", operation_id="scaleDeployment")
def scale_deployment(name: str, body: ScaleRequest, who: Caller, deployments: Deployments) -> DeploymentResponse:
    dep = deployments.scale(who, name, body.min, body.max)
    return _response(deployments.get(who, dep.id))


@router.delete("/deployments/{name}", operation_id="deleteDeployment")
def delete_deployment(name: str, who: Caller, deployments: Deployments) -> DeploymentResponse:
    return DeploymentResponse.from_domain(deployments.delete(who, name))


@router.post("/inference-keys", operation_id="createInferenceKey", status_code=status.HTTP_201_CREATED)
def create_key(body: InferenceKeyRequest, who: Caller, deployments: Deployments) -> InferenceKeyResponse:
    key, token = deployments.create_key(who, body.name, body.deployments, body.requests_per_min,
                                        body.tokens_per_min)  # fmt: skip
    return InferenceKeyResponse.from_domain(key, token)


@router.get("/inference-keys", operation_id="listInferenceKeys")
def list_keys(who: Caller, deployments: Deployments) -> list[InferenceKeyResponse]:
    return [InferenceKeyResponse.from_domain(k) for k in deployments.list_keys(who)]


@router.delete("/inference-keys/{key_id}", operation_id="revokeInferenceKey")
def revoke_key(key_id: str, who: Caller, deployments: Deployments) -> InferenceKeyResponse:
    return InferenceKeyResponse.from_domain(deployments.revoke_key(who, key_id))
