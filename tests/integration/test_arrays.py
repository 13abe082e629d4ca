"""Job arrays, cursor paging of job lists, and wait reasons written only when they change.

Through the API (in-process) on SQLite and PostgreSQL, with a hand-driven clock and cycles on
the small test fleet (fr-tst-1: 288 GPUs, de-tst-1: 72 GPUs).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from brique.domain.arrays import ARRAY_ID_ENV, TASK_ID_ENV
from brique.scheduler.state import SchedulerState
from brique.services import snapshots
from brique.store.repos import audit as audit_repo
from brique.store.repos import jobs as repo
from tests.integration.conftest import Cloud, auth

SPEC = {"name": "sweep", "project": "llm", "command": "python task.py", "gpus": 8, "sleep_s": 60}


def submit_array(cloud: Cloud, array: str, headers: dict[str, str] | None = None, **spec: Any) -> Any:
    return cloud.http.post("/v1/jobs", json={**SPEC, **spec}, params={"array": array},
                           headers={**auth(cloud.tenant), **(headers or {})})  # fmt: skip


def tasks(cloud: Cloud, array_id: str) -> list[dict[str, Any]]:
    r = cloud.http.get("/v1/jobs", params={"array": array_id, "limit": 1000}, headers=auth(cloud.tenant))
    assert r.status_code == 200, r.text
    return r.json()


def test_an_array_is_one_request_of_n_tasks_each_told_its_index(cloud: Cloud) -> None:
    r = submit_array(cloud, "0-9:2")
    assert r.status_code == 201, r.text
    array = r.json()["array"]
    assert array["tasks"] == 5 and array["counts"] == {"pending": 5} and array["id"].startswith("arr_")
    listed = tasks(cloud, array["id"])
    assert sorted(t["array_index"] for t in listed) == [0, 2, 4, 6, 8]
    cloud.tick()
    with cloud.rt.db.transaction() as s:
        placed = repo.array_tasks(s, array["id"], ["scheduled"])
    assert len(placed) == 5
    envs = {cloud.rt.services.scheduling.launch(t).env[TASK_ID_ENV] for t in placed}
    assert envs == {"0", "2", "4", "6", "8"}
    assert {cloud.rt.services.scheduling.launch(t).env[ARRAY_ID_ENV] for t in placed} == {array["id"]}
    cloud.tick(1)
    shown = cloud.http.get(f"/v1/arrays/{array['id']}", headers=auth(cloud.tenant)).json()
    assert shown["counts"] == {"running": 5}


def test_the_running_limit_holds_tasks_back_with_a_reason(cloud: Cloud) -> None:
    array = submit_array(cloud, "0-5%2", sleep_s=30).json()["array"]
    assert array["max_running"] == 2
    cloud.tick()
    by_index = {t["array_index"]: t for t in tasks(cloud, array["id"])}
    assert [by_index[i]["state"] for i in range(6)] == ["scheduled"] * 2 + ["pending"] * 4
    assert by_index[5]["why_pending_code"] == "array_limit"
    assert "at most 2 task(s) at once" in by_index[5]["why_pending"]
    cloud.tick(1)
    cloud.tick(30)  # the first two finish; two more start, never more than two at once
    states = [t["state"] for t in sorted(tasks(cloud, array["id"]), key=lambda t: t["array_index"])]
    assert (
        states[:2] == ["succeeded"] * 2 and states[2:4] == ["scheduled"] * 2 and states[4:] == ["pending"] * 2
    )


def test_cancelling_the_array_cancels_every_task_and_one_task_alone(cloud: Cloud) -> None:
    array = submit_array(cloud, "0-39", gpus=16).json()["array"]  # 640 GPUs: more than the fleet
    cloud.tick()
    cloud.tick(1)
    one = next(t for t in tasks(cloud, array["id"]) if t["state"] == "pending")
    r = cloud.http.post(f"/v1/jobs/{one['id']}/cancel", headers=auth(cloud.tenant))
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    r = cloud.http.post(f"/v1/arrays/{array['id']}/cancel", headers=auth(cloud.tenant))
    assert r.status_code == 200, r.text
    counts = r.json()["counts"]
    assert counts.get("pending", 0) == 0 and counts.get("cancelled", 0) >= 20 and sum(counts.values()) == 40
    cloud.tick(31)  # running tasks stop after their grace period
    final = cloud.http.get(f"/v1/arrays/{array['id']}", headers=auth(cloud.tenant)).json()["counts"]
    assert set(final) <= {"cancelled"}, final


def test_members_cancel_only_their_own_arrays(cloud: Cloud) -> None:
    from tests.integration.conftest import Api, Tenant, make_member

    array = submit_array(cloud, "0-3").json()["array"]  # the tenant-admin's
    member = make_member(Api(cloud.http, cloud.admin), Tenant(cloud.org_id, "acme", cloud.tenant),
                         "m@acme.eu", "tenant-member")  # fmt: skip
    r = cloud.http.post(f"/v1/arrays/{array['id']}/cancel", headers=auth(member))
    assert r.status_code == 403 and "members cancel only their own jobs" in r.json()["error"]["message"]
    assert cloud.http.get(f"/v1/arrays/{array['id']}", headers=auth(cloud.tenant)).json()["counts"] == {"pending": 4}
    mine = submit_array(cloud, "0-1", headers=auth(member)).json()["array"]
    assert cloud.http.post(f"/v1/arrays/{mine['id']}/cancel", headers=auth(member)).status_code == 200


def test_an_array_is_replayed_by_its_idempotency_key_and_refused_when_malformed(cloud: Cloud) -> None:
    first = submit_array(cloud, "0-3", headers={"Idempotency-Key": "sweep-1"})
    again = submit_array(cloud, "0-3", headers={"Idempotency-Key": "sweep-1"})
    assert first.status_code == 201 and again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["array"]["id"] == first.json()["array"]["id"]
    assert len(tasks(cloud, first.json()["array"]["id"])) == 4
    bad = submit_array(cloud, "5-1")
    assert bad.status_code in (400, 422) and bad.json()["error"]["field"] == "array"
    other = cloud.http.get(f"/v1/arrays/{first.json()['array']['id']}", headers=auth(cloud.admin))
    assert other.status_code == 200  # operators see every array; another tenant would get 404
    with cloud.rt.db.transaction() as s:  # one audit record per request (with the tasks when accepted)
        records = [r for r in audit_repo.records_after(s, 0, 10_000) if r.action == "createJob"]
    assert [r.outcome for r in records] == ["201", "200", str(bad.status_code)]


def test_job_lists_page_by_cursor_and_by_offset(cloud: Cloud) -> None:
    submit_array(cloud, "0-24")
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 10}
    pages = 0
    while True:
        r = cloud.http.get("/v1/jobs", params=params, headers=auth(cloud.tenant))
        assert r.status_code == 200, r.text
        seen += [j["id"] for j in r.json()]
        pages += 1
        if "x-next-cursor" not in r.headers:
            break
        params["cursor"] = r.headers["x-next-cursor"]
    assert pages == 3 and len(seen) == 25 and len(set(seen)) == 25
    by_offset = cloud.http.get(
        "/v1/jobs", params={"limit": 10, "offset": 10}, headers=auth(cloud.tenant)
    ).json()
    assert [j["id"] for j in by_offset] == seen[10:20]
    bad = cloud.http.get("/v1/jobs", params={"cursor": "!!nope"}, headers=auth(cloud.tenant))
    assert bad.status_code in (400, 422) and bad.json()["error"]["field"] == "cursor"


def test_wait_reasons_are_written_only_when_they_change(cloud: Cloud) -> None:
    cloud.submit(gpus=288, sleep_s=600, placement={"countries": ["FR"], "name": "FR only"})
    cloud.tick()
    waiting = cloud.submit(gpus=144, sleep_s=60, placement={"countries": ["FR"], "name": "FR only"}).json()[
        "job"
    ]
    cloud.tick(1)
    assert cloud.job(waiting["id"])["why_pending_code"] is not None
    writes: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE JOBS") and "wait_code" in statement:
            writes.append(statement)

    event.listen(cloud.rt.db.engine, "before_cursor_execute", count)
    try:
        cloud.tick(1)
        cloud.tick(1)
    finally:
        event.remove(cloud.rt.db.engine, "before_cursor_execute", count)
    assert writes == []  # same reason as before: nothing written


def test_the_cycle_keeps_its_view_and_state_and_reloads_on_drift(cloud: Cloud) -> None:
    svc = cloud.rt.services.scheduling
    short = cloud.submit(gpus=8, sleep_s=5).json()["job"]["id"]
    cloud.submit(gpus=72, sleep_s=600)
    cloud.tick()
    cloud.tick(1)
    cloud.tick(10)  # the short job ended: the kept state gave its GPUs back
    assert cloud.job(short)["state"] == "succeeded"
    waiting = cloud.submit(gpus=288, sleep_s=60).json()["job"]["id"]
    cloud.tick(10)
    assert svc._view.reloads == 1  # one full load, then only changes
    with cloud.rt.db.transaction() as s:  # a change the time window cannot see (no updated_at)
        job = repo.get(s, waiting)
        assert job is not None
        repo.replace_spec(s, job, job.spec)
    cloud.tick(10)
    assert svc._view.reloads == 2  # the version sum disagreed: reloaded
    with cloud.rt.db.transaction() as s:
        active = repo.in_states(s, repo.ACTIVE)
        health = snapshots.health(s)
    running = [snapshots.running_job(r, cloud.clock.now()) for r in active if r.gpu_ids]
    fresh = SchedulerState(svc.topology, running, health)
    kept = svc._kept.state
    assert kept is not None and kept.rack_free == fresh.rack_free and kept.site_free == fresh.site_free
    assert svc._kept.rebuilds == 1  # built once, then fed differences


def test_the_cycle_reads_back_only_rows_others_changed(cloud: Cloud) -> None:
    svc = cloud.rt.services.scheduling
    fr = {"countries": ["FR"], "name": "FR only"}
    running = cloud.submit(gpus=8, sleep_s=600, placement=fr).json()["job"]["id"]
    cloud.tick()
    waiting = cloud.submit(gpus=288, sleep_s=60, placement=fr).json()["job"]["id"]  # fr-tst-1: 288 GPUs
    cloud.tick(1)
    assert cloud.job(running)["state"] == "running" and cloud.job(waiting)["state"] == "pending"
    read, reloads = svc._view.read, svc._view.reloads
    cloud.tick(1)
    cloud.tick(1)
    assert svc._view.read == read  # its own placements, starts and wait reasons are not read back
    r = cloud.http.post(f"/v1/jobs/{waiting}/cancel", headers=auth(cloud.tenant))
    assert r.status_code == 200, r.text
    cloud.tick(1)
    assert svc._view.read == read  # cancelled: gone from the view by its stamp alone, nothing read whole
    cloud.submit(gpus=8, sleep_s=600)
    cloud.tick(1)
    assert svc._view.read == read + 1 and svc._view.reloads == reloads  # the new job, and only it
