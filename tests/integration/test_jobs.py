"""Jobs end to end on the simulated fleet, with a hand-driven clock and scheduling cycles.

Runs on SQLite and PostgreSQL. The small test fleet: fr-tst-1 (4 NVL72 racks, 288 GPUs, FR,
secnumcloud) and de-tst-1 (1 rack, 72 GPUs, DE).
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from brique.api.app import create_app
from brique.clock import FixedClock
from brique.config import Settings
from brique.domain.fleet import HealthState
from brique.domain.tenancy import Principal, Role
from brique.schemas.jobs import OPERATOR_VISIBLE_SPEC
from brique.server.runtime import build_runtime
from tests.integration.conftest import T0, Cloud, auth


def states(cloud: Cloud, job_id: str) -> list[tuple[str | None, str, str]]:
    return [(e["from_state"], e["to_state"], e["code"]) for e in cloud.job(job_id)["events"]]


def test_a_job_runs_to_success_with_every_transition_recorded(cloud: Cloud) -> None:
    r = cloud.submit(gpus=144, sleep_s=60, placement={"countries": ["FR"], "name": "FR only"})
    assert r.status_code == 201, r.text
    job_id = r.json()["job"]["id"]
    assert r.json()["job"]["state"] == "pending"
    cloud.tick()  # placed, submitted to the simulated executor
    job = cloud.job(job_id)
    assert job["state"] == "scheduled" and job["site"] == "fr-tst-1" and len(job["racks"]) == 2
    assert len(job["gpu_ids"]) == 144 and len(set(job["gpu_ids"])) == 144
    cloud.tick(1)  # the executor reports it running
    assert cloud.job(job_id)["state"] == "running"
    cloud.tick(60)
    job = cloud.job(job_id)
    assert job["state"] == "succeeded" and job["exit_code"] == 0
    assert states(cloud, job_id) == [
        (None, "pending", "submitted"),
        ("pending", "scheduled", "fair_share"),
        ("scheduled", "running", "started"),
        ("running", "succeeded", "succeeded"),
    ]
    logs = cloud.http.get(f"/v1/jobs/{job_id}/logs", headers=auth(cloud.tenant)).text
    assert "144 GPUs on 36 nodes in fr-tst-1/r001, fr-tst-1/r002" in logs and "exit code 0" in logs


def test_why_pending_is_answered_from_the_decision(cloud: Cloud) -> None:
    big = cloud.submit(gpus=288, sleep_s=600, placement={"countries": ["FR"], "name": "FR only"}).json()[
        "job"
    ]
    cloud.tick()
    waiting = cloud.submit(gpus=144, sleep_s=60, placement={"countries": ["FR"], "name": "FR only"}).json()[
        "job"
    ]
    cloud.tick(1)
    assert cloud.job(big["id"])["state"] == "running"
    job = cloud.job(waiting["id"])
    assert job["state"] == "pending"
    assert job["why_pending_code"] == "reserved"
    listed = cloud.http.get("/v1/jobs", params={"state": "pending"}, headers=auth(cloud.tenant)).json()
    assert [j["id"] for j in listed] == [waiting["id"]] and listed[0]["why_pending"]


def test_idempotent_submission(cloud: Cloud) -> None:
    first = cloud.submit(headers={"Idempotency-Key": "abc"})
    again = cloud.submit(headers={"Idempotency-Key": "abc"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["replayed"] and again.json()["job"]["id"] == first.json()["job"]["id"]
    other = cloud.submit(gpus=16, headers={"Idempotency-Key": "abc"})
    assert other.status_code == 409 and other.json()["error"]["field"] == "Idempotency-Key"
    assert len(cloud.http.get("/v1/jobs", headers=auth(cloud.tenant)).json()) == 1


def test_dry_run_creates_nothing(cloud: Cloud) -> None:
    r = cloud.http.post("/v1/jobs?dry_run=true", json={"name": "x", "project": "llm", "command": "c", "gpus": 72},
                        headers=auth(cloud.tenant))  # fmt: skip
    assert r.status_code == 200
    assert r.json()["dry_run"]["verdict"] == "start"
    assert r.json()["dry_run"]["message"].startswith("would start now on ")
    assert cloud.http.get("/v1/jobs", headers=auth(cloud.tenant)).json() == []
    cloud.submit(gpus=288, sleep_s=600, placement={"countries": ["FR"]})
    cloud.tick()
    r = cloud.http.post("/v1/jobs?dry_run=true", headers=auth(cloud.tenant),
                        json={"name": "x", "project": "llm", "command": "c", "gpus": 144,
                              "placement": {"countries": ["FR"], "name": "FR only"}})  # fmt: skip
    assert r.json()["dry_run"]["verdict"] == "wait"
    assert "FR only" in r.json()["dry_run"]["message"]


def test_impossible_jobs_are_refused_at_once(cloud: Cloud) -> None:
    r = cloud.submit(gpus=300, placement={"countries": ["FR"], "name": "FR only"})
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "invalid_input", "field": "gpus",
        "message": "asks 300 GPUs; the largest site meeting policy 'FR only' has 288",
    }  # fmt: skip
    r = cloud.submit(placement={"countries": ["IT"]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "placement"
    assert "no site meets placement policy" in r.json()["error"]["message"]
    r = cloud.submit(project="nope")
    assert r.status_code == 404 and r.json()["error"]["field"] == "project"
    r = cloud.submit(gpus=0)
    assert r.status_code == 422 and r.json()["error"]["field"] == "gpus"
    r = cloud.submit(env={"1BAD": "x"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "env"


def test_yaml_submission(cloud: Cloud) -> None:
    body = "name: y\nproject: llm\ncommand: echo hi\ngpus: 4\ntier: preemptible\n"
    r = cloud.http.post(
        "/v1/jobs", content=body, headers={**auth(cloud.tenant), "Content-Type": "application/yaml"}
    )
    assert r.status_code == 201 and r.json()["job"]["tier"] == "preemptible"
    bad = cloud.http.post(
        "/v1/jobs", content="name: [", headers={**auth(cloud.tenant), "Content-Type": "application/yaml"}
    )
    assert bad.status_code == 422 and "not valid YAML" in bad.json()["error"]["message"]


def test_cancel_pending_and_running(cloud: Cloud) -> None:
    pending = cloud.submit(gpus=8, sleep_s=60).json()["job"]["id"]
    r = cloud.http.post(f"/v1/jobs/{pending}/cancel", headers=auth(cloud.tenant))
    assert r.json()["state"] == "cancelled"
    running = cloud.submit(gpus=8, sleep_s=600, grace_s=20).json()["job"]["id"]
    cloud.tick()
    cloud.tick(1)
    assert cloud.job(running)["state"] == "running"
    r = cloud.http.post(f"/v1/jobs/{running}/cancel", headers=auth(cloud.tenant))
    assert r.json()["stopping"] == "cancel"
    cloud.tick(1)
    job = cloud.job(running)
    assert job["state"] == "cancelled" and job["gpu_ids"] == []
    assert [c for _, _, c in states(cloud, running)][-2:] == ["cancelling", "cancelled"]
    again = cloud.http.post(f"/v1/jobs/{running}/cancel", headers=auth(cloud.tenant))
    assert again.status_code == 409


def test_guaranteed_priority_preempts_preemptible_work_which_is_requeued(cloud: Cloud) -> None:
    r = cloud.http.put("/v1/orgs/acme/contracts", json={"contracts": [{"guaranteed_gpus": 144}]},
                       headers=auth(cloud.admin))  # fmt: skip
    assert r.status_code == 200, r.text
    spot = [cloud.submit(gpus=72, tier="preemptible", sleep_s=3600, grace_s=30, name=f"spot{i}").json()["job"]["id"]
            for i in range(5)]  # fmt: skip
    cloud.tick()
    cloud.tick(1)
    assert all(cloud.job(j)["state"] == "running" for j in spot)
    prio = cloud.submit(gpus=144, tier="priority", sleep_s=60, placement={"countries": ["FR"]}).json()["job"][
        "id"
    ]
    cloud.tick(1)
    victims = [j for j in spot if cloud.job(j)["stopping"] == "preempt"]
    assert len(victims) == 2
    assert cloud.job(prio)["state"] == "scheduled"
    cloud.tick(1)  # simulated jobs checkpoint at once: victims requeued, GPUs free
    for v in victims:
        job = cloud.job(v)
        assert job["state"] == "pending" and job["attempt"] == 2
        assert [c for _, _, c in states(cloud, v)][-3:] == ["preempting", "preempted", "requeued"]
    cloud.tick(1)
    assert cloud.job(prio)["state"] == "running"


def test_node_loss_requeues_while_retries_remain(cloud: Cloud) -> None:
    job_id = cloud.submit(gpus=4, sleep_s=600, retries=1).json()["job"]["id"]
    cloud.tick()
    cloud.tick(1)
    node = cloud.job(job_id)["gpu_ids"][0].rsplit("/", 1)[0]
    admin = Principal("usr_x", "key_x", Role.OPERATOR_ADMIN, None)
    cloud.rt.services.fleet.set_node_state(admin, node, HealthState.DOWN, "PSU")
    cloud.tick(1)  # lost, requeued, and placed again elsewhere in the same cycle
    job = cloud.job(job_id)
    assert job["state"] == "scheduled" and job["attempt"] == 2 and job["retries_left"] == 0
    assert node not in {g.rsplit("/", 1)[0] for g in job["gpu_ids"]}
    assert [c for _, _, c in states(cloud, job_id)][-3:] == ["lost", "retry", "fair_share"]
    cloud.tick(1)
    cloud.rt.services.fleet.set_node_state(admin, job["gpu_ids"][0].rsplit("/", 1)[0], HealthState.DOWN, "again")
    cloud.tick(1)
    job = cloud.job(job_id)
    assert job["state"] == "failed" and [c for _, _, c in states(cloud, job_id)][-2:] == [
        "lost",
        "no_retries",
    ]


def test_max_runtime_stops_the_job(cloud: Cloud) -> None:
    job_id = cloud.submit(gpus=4, sleep_s=10_000, max_runtime_s=100, grace_s=5).json()["job"]["id"]
    cloud.tick()
    cloud.tick(1)
    cloud.tick(99)  # 100 s after start: the control plane stops it
    assert cloud.job(job_id)["stopping"] == "timeout"
    cloud.tick(1)
    job = cloud.job(job_id)
    assert job["state"] == "failed" and [c for _, _, c in states(cloud, job_id)][-2:] == [
        "timeout",
        "timeout",
    ]


def test_quotas_answer_429(settings: Settings) -> None:
    clock = FixedClock(T0)
    rt = build_runtime(
        settings.model_copy(update={"submission_burst": 6, "submissions_per_minute": 1, "max_pending_jobs": 2}), clock=clock
    )
    admin = rt.services.tenancy.bootstrap(settings.admin_key_file)
    assert admin is not None
    try:
        with TestClient(create_app(rt, run_scheduler=False)) as http:
            tenant = http.post("/v1/orgs", json={"name": "acme", "admin_email": "a@acme.eu"},
                               headers=auth(admin)).json()["admin_key"]["token"]  # fmt: skip
            http.post("/v1/orgs/acme/projects", json={"name": "llm"}, headers=auth(tenant))
            body = {"name": "j", "project": "llm", "command": "c", "gpus": 1}
            # every attempt counts against the rate limit (burst 6): invalid ones and dry runs too
            assert http.post("/v1/jobs", json={**body, "gpus": "1"}, headers=auth(tenant)).status_code == 422
            assert http.post("/v1/jobs", json={**body, "project": "nope"}, headers=auth(tenant)).status_code == 404
            assert http.post("/v1/jobs?dry_run=true", json=body, headers=auth(tenant)).status_code == 200
            codes = [http.post("/v1/jobs", json=body, headers=auth(tenant)) for _ in range(3)]
            assert [r.status_code for r in codes] == [201, 201, 429]
            assert "pending jobs (quota)" in codes[2].json()["error"]["message"]  # max 2 pending
            for junk in ({**body, "gpus": "1"}, body):  # over the rate: refused before any other check
                r = http.post("/v1/jobs", json=junk, headers=auth(tenant))
                assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
                assert "too many submissions" in r.json()["error"]["message"]
                assert int(r.headers["Retry-After"]) >= 1
    finally:
        rt.close()


def test_rate_limited_submissions_say_when_to_retry(settings: Settings) -> None:
    rt = build_runtime(settings.model_copy(update={"submission_burst": 1, "submissions_per_minute": 1}))
    admin = rt.services.tenancy.bootstrap(settings.admin_key_file)
    try:
        with TestClient(create_app(rt, run_scheduler=False)) as http:
            tenant = http.post("/v1/orgs", json={"name": "acme", "admin_email": "a@acme.eu"},
                               headers=auth(admin)).json()["admin_key"]["token"]  # fmt: skip
            http.post("/v1/orgs/acme/projects", json={"name": "llm"}, headers=auth(tenant))
            body = {"name": "j", "project": "llm", "command": "c", "gpus": 1}
            assert http.post("/v1/jobs", json=body, headers=auth(tenant)).status_code == 201
            r = http.post("/v1/jobs", json=body, headers=auth(tenant))
            assert r.status_code == 429 and 50 <= int(r.headers["Retry-After"]) <= 60
            assert "retry in" in r.json()["error"]["message"]
    finally:
        rt.close()


def test_isolation_and_roles_for_jobs(cloud: Cloud) -> None:
    job_id = cloud.submit(env={"TOKEN": "s3cr3t"}).json()["job"]["id"]
    other = cloud.http.post(
        "/v1/orgs", json={"name": "bank", "admin_email": "b@bank.eu"}, headers=auth(cloud.admin)
    )
    bank = other.json()["admin_key"]["token"]
    for path in (f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/events", f"/v1/jobs/{job_id}/logs"):
        assert cloud.http.get(path, headers=auth(bank)).status_code == 404
    assert cloud.http.post(f"/v1/jobs/{job_id}/cancel", headers=auth(bank)).status_code == 404
    assert cloud.http.get("/v1/jobs", headers=auth(bank)).json() == []
    assert cloud.http.get("/v1/events", headers=auth(bank)).json() == []
    seen = cloud.http.get(f"/v1/jobs/{job_id}", headers=auth(cloud.admin)).json()  # operators: metadata only
    assert seen["name"] is None and set(seen["spec"]) <= OPERATOR_VISIBLE_SPEC and seen["spec"]["gpus"] >= 1
    assert "TOKEN" not in cloud.http.get(f"/v1/jobs/{job_id}", headers=auth(cloud.admin)).text
    listed = cloud.http.get("/v1/jobs", headers=auth(cloud.admin)).json()
    assert [j["name"] for j in listed if j["id"] == job_id] == [None]  # the list is as blind as the detail
    assert cloud.http.get(f"/v1/jobs/{job_id}/logs", headers=auth(cloud.admin)).status_code == 403
    assert cloud.submit(key=cloud.admin).status_code == 403
    viewer_user = cloud.http.post("/v1/orgs/acme/users", json={"email": "v@acme.eu", "role": "tenant-viewer"},
                                  headers=auth(cloud.tenant)).json()["id"]  # fmt: skip
    viewer = cloud.http.post("/v1/keys", json={"user_id": viewer_user}, headers=auth(cloud.tenant)).json()[
        "token"
    ]
    assert cloud.submit(key=viewer).status_code == 403
    assert cloud.http.get(f"/v1/jobs/{job_id}", headers=auth(viewer)).status_code == 200
