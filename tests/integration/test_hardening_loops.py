"""Background loops isolate failures: one org's bad budget row or one job's bad data is logged and
skipped, never holding back the other tenants (issue 11)."""

from __future__ import annotations

from sqlalchemy import text

from tests.integration.conftest import Cloud, auth

FR = {"countries": ["FR"]}


def _second_tenant(cloud: Cloud) -> str:
    r = cloud.http.post(
        "/v1/orgs", json={"name": "beta", "admin_email": "a@beta.eu"}, headers=auth(cloud.admin)
    )
    key = r.json()["admin_key"]["token"]
    assert (
        cloud.http.post("/v1/orgs/beta/projects", json={"name": "llm"}, headers=auth(key)).status_code == 201
    )
    return key


def _raw(cloud: Cloud, sql: str, **params: object) -> None:
    """Write what validation now refuses (a row stored before the fix), bypassing foreign keys."""
    with cloud.rt.db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        else:
            conn.exec_driver_sql("SET session_replication_role = replica")
        conn.execute(text(sql), params)


def test_one_orgs_bad_budget_row_never_holds_back_other_tenants_alerts(cloud: Cloud) -> None:
    beta = _second_tenant(cloud)
    for org, key in (("acme", cloud.tenant), ("beta", beta)):
        r = cloud.http.put(
            f"/v1/orgs/{org}/budgets", json={"amount": "1.00", "thresholds": [50]}, headers=auth(key)
        )
        assert r.status_code == 200, r.text
        assert cloud.submit(key=key, gpus=1, sleep_s=100_000, placement=FR).status_code == 201
    cloud.tick()
    cloud.tick(1)
    cloud.tick(1_000)  # 1,000 s at 3.60 EUR/GPU-h: EUR 1.00 each
    _raw(
        cloud, "UPDATE budgets SET amount = 0 WHERE org_id = :org", org=cloud.org_id
    )  # "0.001" stored as 0.00
    budgets = cloud.rt.services.budgets
    assert budgets is not None
    cloud.rt.services.metering.collect()  # type: ignore[union-attr]
    assert budgets.evaluate() == 1  # beta's alert, despite acme's bad row
    alerts = cloud.http.get("/v1/orgs/beta/budget-alerts", headers=auth(beta)).json()
    assert [a["threshold"] for a in alerts] == [50]
    assert cloud.http.get("/v1/orgs/acme/budgets", headers=auth(cloud.tenant)).status_code == 200
    assert cloud.submit(gpus=1).status_code == 201  # admission reads budgets too


def test_one_jobs_bad_data_never_stops_usage_collection(cloud: Cloud) -> None:
    beta = _second_tenant(cloud)
    bad = cloud.submit(gpus=1, sleep_s=100_000, placement=FR).json()["job"]["id"]
    good = cloud.submit(key=beta, gpus=1, sleep_s=100_000, placement=FR).json()["job"]["id"]
    cloud.tick()
    cloud.tick(1)
    cloud.tick(60)
    _raw(
        cloud, "UPDATE jobs SET org_id = 'org_gone' WHERE id = :id", id=bad
    )  # its usage row cannot be written
    metering = cloud.rt.services.metering
    assert metering is not None
    assert metering.collect() >= 1
    window = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
    usage = cloud.http.get("/v1/usage", params=window, headers=auth(beta)).json()
    assert [r["job_id"] for r in usage["records"]] == [good]
    cloud.tick(60)
    assert metering.collect() >= 0  # the cursor moved on: the next round is not stuck on the bad job
