"""Edge cases and abuse that once went wrong: each test pins a fixed bug (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.integration.conftest import Cloud, auth


def _events(cloud: Cloud, job_id: str) -> list[str]:
    return [e["code"] for e in cloud.job(job_id)["events"]]


def test_a_job_cancelled_before_it_started_never_runs(cloud: Cloud) -> None:
    cloud.http.put(
        "/v1/orgs/acme/contracts", json={"contracts": [{"guaranteed_gpus": 288}]}, headers=auth(cloud.admin)
    )
    spot = [
        cloud.submit(gpus=72, tier="preemptible", sleep_s=3600, name=f"s{i}").json()["job"]["id"]
        for i in range(5)
    ]
    cloud.tick()
    cloud.tick(1)
    prio = cloud.submit(gpus=288, tier="priority", sleep_s=60, placement={"countries": ["FR"]}).json()["job"][
        "id"
    ]
    cloud.tick(1)
    assert cloud.job(prio)["state"] == "scheduled"  # waiting for the preempted jobs to leave its GPUs
    cloud.http.post(f"/v1/jobs/{prio}/cancel", headers=auth(cloud.tenant))
    for _ in range(3):
        cloud.tick(1)
    job = cloud.job(prio)
    assert job["state"] == "cancelled" and job["gpu_ids"] == []
    assert "started" not in _events(cloud, prio)
    assert all(cloud.job(s)["state"] in ("running", "scheduled", "pending") for s in spot)


def test_absurd_durations_are_refused(cloud: Cloud) -> None:
    for field in ("sleep_s", "estimated_runtime_s", "max_runtime_s"):
        r = cloud.submit(**{field: 1e300})
        assert r.status_code == 422 and r.json()["error"]["field"] == field
    r = cloud.http.post("/v1/jobs", content="name: j\nproject: llm\ncommand: x\ngpus: 1\nsleep_s: .inf\n",
                        headers={**auth(cloud.tenant), "Content-Type": "application/yaml"})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["field"] == "sleep_s"


def test_operators_cannot_mint_keys_for_tenant_identities(cloud: Cloud) -> None:
    me = cloud.http.get("/v1/whoami", headers=auth(cloud.tenant)).json()
    r = cloud.http.post("/v1/keys", json={"user_id": me["user_id"]}, headers=auth(cloud.admin))
    assert r.status_code == 403 and r.json()["error"]["code"] == "tenant_only"


def test_request_ids_and_long_inputs_never_become_500(cloud: Cloud) -> None:
    r = cloud.submit(headers={"X-Request-ID": "x" * 80})
    assert r.status_code == 201 and r.headers["X-Request-ID"].startswith("req_")
    assert cloud.submit(headers={"X-Request-ID": "my-trace.42"}).headers["X-Request-ID"] == "my-trace.42"
    r = cloud.http.post("/v1/" + "a" * 90, headers=auth(cloud.tenant))
    assert r.status_code == 404
    long_email = "a@" + "b" * 260 + ".eu"
    r = cloud.http.post("/v1/orgs/acme/users", json={"email": long_email}, headers=auth(cloud.tenant))
    assert r.status_code == 422 and r.json()["error"]["field"] == "email"
    assert cloud.http.get("/v1/audit/verify", headers=auth(cloud.admin)).json()["ok"]


def test_audit_records_name_the_org_even_when_the_path_names_it(cloud: Cloud) -> None:
    cloud.http.put(
        "/v1/orgs/acme/contracts", json={"contracts": [{"guaranteed_gpus": 8}]}, headers=auth(cloud.admin)
    )
    doc = cloud.http.get("/v1/audit/export", headers=auth(cloud.tenant)).json()
    assert any(r.get("action") == "setContracts" for r in doc["records"])


def test_evidence_period_with_an_offset_is_the_same_instant(cloud: Cloud) -> None:
    job = cloud.submit(sleep_s=60).json()["job"]["id"]
    cloud.tick()  # placed at 09:00Z (the fixture's clock)
    window = {"org": "acme", "from": "2026-11-02T09:30:00+01:00", "to": "2026-11-02T10:30:00+01:00"}
    report = cloud.http.get("/v1/sovereignty/report", params=window, headers=auth(cloud.tenant)).json()
    assert [j["job_id"] for j in report["jobs"]] == [job]
