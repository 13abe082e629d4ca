"""Deployments and gateway keys through the API on both databases: validation, scope, the replica job,
reconcile after a failure, scaling bounds, and token usage stored and read back (no processes: the
simulated fleet; the real path with processes is tests/integration/test_inference.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from brique.domain.inference import TokenUsage
from brique.errors import RateLimited
from brique.services.inference.deployments import GatewayCaller
from brique.services.inference.gateway import GatewayState, Limits
from tests.integration.conftest import Cloud, auth
from tests.unit.test_inference_rules import T0, make_dep

DEP = {"name": "chat", "project": "llm", "model": "tiny", "runtime": "echo", "gpus": 1,
       "replicas": {"min": 1, "max": 3}}  # fmt: skip


def deploy(cloud: Cloud, **over: object) -> dict:
    r = cloud.http.post("/v1/deployments", json={**DEP, **over}, headers=auth(cloud.tenant))
    assert r.status_code == 201, r.text
    return r.json()


def test_deploy_validates_and_starts_one_replica_job(cloud: Cloud) -> None:
    bad = [({"runtime": "tgi"}, "runtime"), ({"replicas": {"min": 3, "max": 2}}, "replicas"),
           ({"tier": "priority", "replicas": {"min": 0, "max": 1}}, "replicas"), ({"gpus": 100_000}, "gpus"),
           ({"placement": {"countries": ["US"]}}, "placement"), ({"runtime": "custom"}, "command"),
           ({"projet": "llm"}, "projet")]  # fmt: skip
    for over, field in bad:
        r = cloud.http.post("/v1/deployments", json={**DEP, **over}, headers=auth(cloud.tenant))
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (over, r.text)
    dep = deploy(cloud)
    assert dep["desired_replicas"] == 1 and len(dep["replicas"]) == 1
    job = cloud.job(dep["replicas"][0]["job_id"])
    assert job["name"] == "chat-replica" and job["spec"]["labels"] == {"brique.deployment": dep["id"]}
    assert "brique.agent.serve --runtime echo --model tiny" in job["spec"]["command"]
    again = deploy(cloud, model="tiny-2")  # same name: an update, not a second deployment
    assert again["id"] == dep["id"] and again["model"] == "tiny-2" and len(again["replicas"]) == 1


def test_a_failed_replica_is_replaced_and_scale_bounds_apply(cloud: Cloud) -> None:
    dep = deploy(cloud)
    first = dep["replicas"][0]["job_id"]
    cloud.http.post(f"/v1/jobs/{first}/cancel", headers=auth(cloud.tenant))
    cloud.tick()
    deployments = cloud.rt.services.inference.deployments
    deployments.reconcile({})
    shown = cloud.http.get("/v1/deployments/chat", headers=auth(cloud.tenant)).json()
    assert [r["job_id"] for r in shown["replicas"]] != [first] and len(shown["replicas"]) == 1
    r = cloud.http.post("/v1/deployments/chat/scale", json={"min": 2, "max": 2}, headers=auth(cloud.tenant))
    assert r.status_code == 200 and len(r.json()["replicas"]) == 2
    r = cloud.http.delete("/v1/deployments/chat", headers=auth(cloud.tenant))
    assert r.json()["state"] == "deleted"
    assert cloud.http.get("/v1/deployments", headers=auth(cloud.tenant)).json() == []


def test_keys_are_scoped_and_usage_is_stored_per_key(cloud: Cloud) -> None:
    dep = deploy(cloud)
    deploy(cloud, name="other")
    r = cloud.http.post("/v1/inference-keys", json={"name": "k", "deployments": ["chat"], "tokens_per_min": 100},
                        headers=auth(cloud.tenant))  # fmt: skip
    assert r.status_code == 201
    key = r.json()
    deployments = cloud.rt.services.inference.deployments
    caller = deployments.authenticate(key["token"])
    assert caller.allows(dep["id"]) and caller.tokens_per_min == 100 and caller.key_id == key["id"]
    assert not caller.allows(deploy(cloud, name="third")["id"])
    now = cloud.clock.now()
    deployments.record_usage([TokenUsage(cloud.org_id, dep["project_id"], dep["id"], key["id"], "tiny", 7, 3, now)
                              for _ in range(2)])  # fmt: skip
    start, end = (now - timedelta(hours=1)).isoformat(), (now + timedelta(hours=1)).isoformat()
    usage = cloud.http.get("/v1/usage", params={"from": start, "to": end}, headers=auth(cloud.tenant)).json()
    assert usage["tokens"] == [{"project_id": dep["project_id"], "deployment_id": dep["id"], "deployment": "chat",
                                "key_id": key["id"], "requests": 2, "prompt_tokens": 14, "completion_tokens": 6}]
    r = cloud.http.delete(f"/v1/inference-keys/{key['id']}", headers=auth(cloud.tenant))
    assert r.json()["revoked_at"] is not None
    listed = cloud.http.get("/v1/inference-keys", headers=auth(cloud.tenant)).json()
    assert [k["token"] for k in listed] == [None]  # shown once, at creation


def test_gateway_limits_per_key_and_org_with_exact_retry_after() -> None:
    now = [1000.0]
    gw = GatewayState(Limits(org_requests_per_min=3, org_tokens_per_min=None), monotonic=lambda: now[0])
    dep = make_dep()
    gw.set_routes([dep], [])
    a = GatewayCaller("org_1", "ikey_a", None, requests_per_min=None, tokens_per_min=50)
    b = GatewayCaller("org_1", "ikey_b", None)
    gw.admit(a, dep, T0)
    gw.record(a, TokenUsage("org_1", "prj_1", dep.id, "ikey_a", "m", 40, 20, T0))  # 60 > 50 tokens/min
    now[0] += 10
    with pytest.raises(RateLimited, match="this key's tokens per minute") as e:
        gw.admit(a, dep, T0)
    assert e.value.retry_after_s == pytest.approx(50.0)  # the 60 tokens age out 60 s after they were spent
    gw.admit(b, dep, T0)
    gw.admit(b, dep, T0)  # the org's 3rd request this minute
    with pytest.raises(RateLimited, match="organization's requests per minute") as e:
        gw.admit(b, dep, T0)
    assert e.value.retry_after_s == pytest.approx(50.0)  # the first one leaves the window at t+60
    now[0] += 50.01
    gw.admit(b, dep, T0)
    assert [u.prompt_tokens for u in gw.drain_usage()] == [40] and gw.drain_usage() == []


def test_an_orgs_contract_sets_its_gateway_limits_over_the_operators_default(cloud: Cloud) -> None:
    terms = {"guaranteed_gpus": 0, "inference_requests_per_min": 2, "inference_tokens_per_min": 5000}
    r = cloud.http.put("/v1/orgs/acme/contracts", json={"contracts": [terms]}, headers=auth(cloud.admin))
    assert r.status_code == 200, r.text
    shown = cloud.http.get("/v1/orgs/acme/contracts", headers=auth(cloud.tenant)).json()
    assert [(c["inference_requests_per_min"], c["inference_tokens_per_min"]) for c in shown] == [(2, 5000)]
    caller = cloud.rt.services.inference.deployments.authenticate(cloud.tenant)
    assert (caller.org_requests_per_min, caller.org_tokens_per_min) == (2, 5000)
    now = [1000.0]
    gw = GatewayState(Limits(org_requests_per_min=100, org_tokens_per_min=None), monotonic=lambda: now[0])
    dep = make_dep()
    gw.admit(caller, dep, T0)
    gw.admit(caller, dep, T0)
    with pytest.raises(RateLimited, match="organization's requests per minute"):
        gw.admit(caller, dep, T0)  # the contract's 2, not the operator's 100
    other = GatewayCaller("org_2", "ikey_x", None)
    for _ in range(3):
        gw.admit(other, dep, T0)  # an org without its own limit gets the operator's default
    bad = cloud.http.put("/v1/orgs/acme/contracts", json={"contracts": [{"inference_requests_per_min": 0}]},
                         headers=auth(cloud.admin))  # fmt: skip
    assert bad.status_code == 422 and bad.json()["error"]["field"].endswith("inference_requests_per_min"), bad.text
    versions = cloud.http.get("/v1/orgs/acme/contracts/versions", headers=auth(cloud.tenant)).json()
    assert versions[0]["contracts"][0]["inference_requests_per_min"] == 2, versions
