"""A cycle that places more jobs than one batch writes them in transactions of `PLACE_CHUNK` each,
launching each batch after its commit; a failure between two batches leaves a consistent state.

Through the API (in-process) on SQLite and PostgreSQL, on the small test fleet (360 GPUs).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from brique.errors import NotLeader
from brique.executors.base import Launch
from brique.services import scheduling
from brique.store.repos import job_cycle
from brique.store.repos import jobs as repo
from tests.integration.conftest import Cloud, auth

SPEC = {"name": "sweep", "project": "llm", "command": "python task.py", "gpus": 1, "sleep_s": 600}


def launches(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count every launch the cycle sends (by job id)."""
    sent: Counter[str] = Counter()
    for executor in {id(e): e for e in cloud.rt.services.scheduling.executors.values()}.values():
        submit = executor.submit

        def counted(launch: Launch, submit: Any = submit) -> None:
            sent[launch.job_id] += 1
            submit(launch)

        monkeypatch.setattr(executor, "submit", counted)
    return sent


def states(cloud: Cloud, array_id: str) -> dict[str, int]:
    r = cloud.http.get(f"/v1/arrays/{array_id}", headers=auth(cloud.tenant))
    assert r.status_code == 200, r.text
    return r.json()["counts"]


def test_a_large_placement_is_written_in_batches_and_launched_once(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduling, "PLACE_CHUNK", 4)
    sent = launches(cloud, monkeypatch)
    svc = cloud.rt.services.scheduling
    cloud.tick()  # the view's first load
    commits = Counter[str]()
    real = cloud.rt.db.transaction

    def counting(*args: Any, **kwargs: Any) -> Any:
        commits["transactions"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(cloud.rt.db, "transaction", counting)
    reloads, read = svc._view.reloads, svc._view.read
    r = cloud.http.post("/v1/jobs", json=SPEC, params={"array": "0-17"}, headers=auth(cloud.tenant))
    assert r.status_code == 201, r.text
    array_id = r.json()["array"]["id"]
    before = commits["transactions"]
    cloud.tick(1)
    assert commits["transactions"] - before == 1 + 4  # the cycle's own (4 placed), then 4 + 4 + 4 + 2
    assert states(cloud, array_id) == {"scheduled": 18}
    assert sorted(sent.values()) == [1] * 18  # every task launched, once
    assert svc._view.reloads == reloads and svc._view.read == read  # the tasks were taken as committed
    cloud.tick(1)
    assert states(cloud, array_id) == {"running": 18}
    assert svc._view.reloads == reloads and svc._view.read == read  # its versions were noted right: no reload
    assert sorted(sent.values()) == [1] * 18
    with cloud.rt.db.transaction() as s:
        placed = [e for e in repo.events(s, job_id=None, org_id=cloud.org_id, since=None, limit=1000)
                  if e.code != "submitted" and e.to_state.value == "scheduled"]  # fmt: skip
    assert len(placed) == 18  # one event per placement


def test_a_failure_between_batches_leaves_the_rest_pending_and_none_launched_twice(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduling, "PLACE_CHUNK", 4)
    sent = launches(cloud, monkeypatch)
    svc = cloud.rt.services.scheduling
    cloud.tick()
    r = cloud.http.post("/v1/jobs", json=SPEC, params={"array": "0-17"}, headers=auth(cloud.tenant))
    array_id = r.json()["array"]["id"]
    calls = Counter[str]()

    def fence(s: Session) -> None:  # this replica loses the lead after the first batch of its own
        calls["fence"] += 1
        if calls["fence"] > 2:
            raise NotLeader("leader term 1")

    with pytest.raises(NotLeader):
        svc.cycle(fence=fence)
    assert states(cloud, array_id) == {"scheduled": 8, "pending": 10}  # the cycle's 4, then one batch of 4
    with cloud.rt.db.transaction() as s:
        scheduled = {j.id for j in repo.array_tasks(s, array_id, ["scheduled"])}
    assert set(sent) == scheduled and sorted(sent.values()) == [1] * 8  # launched: exactly those recorded
    cloud.tick(1)  # the next cycle (reloaded view) starts the 8 and places the 10 others
    cloud.tick(1)
    assert states(cloud, array_id) == {"running": 18}
    assert sorted(sent.values()) == [1] * 18  # none launched twice


def test_a_health_change_between_batches_leaves_the_rest_to_the_next_cycle(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduling, "PLACE_CHUNK", 4)
    sent = launches(cloud, monkeypatch)
    cloud.tick()
    r = cloud.http.post("/v1/jobs", json=SPEC, params={"array": "0-17"}, headers=auth(cloud.tenant))
    array_id = r.json()["array"]["id"]
    health = iter([{}, {"fr-tst-1-r001n01": "down"}])
    real = scheduling.snapshots.health
    monkeypatch.setattr(scheduling.snapshots, "health", lambda s: {**real(s), **next(health, {})})
    cloud.tick(1)  # the cycle (4 placed), one more batch, then the health read disagrees
    monkeypatch.setattr(scheduling.snapshots, "health", real)
    assert states(cloud, array_id) == {"scheduled": 4, "pending": 14}
    assert sorted(sent.values()) == [1] * 4
    cloud.tick(1)
    cloud.tick(1)
    assert states(cloud, array_id) == {"running": 18}
    assert sorted(sent.values()) == [1] * 18


def test_a_job_noted_late_never_replaces_a_newer_version(cloud: Cloud) -> None:
    svc = cloud.rt.services.scheduling
    cloud.tick()
    r = cloud.http.post("/v1/jobs", json=SPEC, params={"array": "0-2"}, headers=auth(cloud.tenant))
    array_id = r.json()["array"]["id"]
    with cloud.rt.db.transaction() as s:
        as_submitted = repo.array_tasks(s, array_id)
    cloud.tick(1)  # placed: version 2
    svc.noted(as_submitted)  # version 1, as if noted after the cycle had read and placed them
    reloads = svc._view.reloads
    cloud.tick(1)
    assert states(cloud, array_id) == {"running": 3}
    assert svc._view.reloads == reloads  # the view kept the newer versions: its checksum agreed


def test_postgresql_vacuums_and_analyzes_the_jobs_table_early(cloud: Cloud) -> None:
    with cloud.rt.db.transaction() as s:
        if s.get_bind().dialect.name != "postgresql":
            return  # SQLite has no autovacuum: nothing is set
        options = s.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'jobs'")).scalar_one()
    assert set(options) == {"autovacuum_vacuum_scale_factor=0.02", "autovacuum_vacuum_insert_scale_factor=0.02",
                            "autovacuum_analyze_scale_factor=0.02"}  # fmt: skip


def test_submissions_committed_while_a_cycle_reads_never_make_the_view_reload(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL (READ COMMITTED) each statement sees every commit made before it: the view's
    changes and its count/version checksum come from one statement, so a submission committing right
    after that read (as in a burst) is simply taken by the next cycle, never a full reload. (SQLite
    holds the write lock through the cycle: the submission commits after it.)"""
    svc = cloud.rt.services.scheduling
    cloud.tick()
    reloads = svc._view.reloads
    real = job_cycle.stamps_since
    submitted: list[str] = []

    def submit() -> None:
        r = cloud.http.post("/v1/jobs", json={**SPEC, "name": f"j{len(submitted)}"}, headers=auth(cloud.tenant))
        assert r.status_code == 201, r.text
        submitted.append(r.json()["job"]["id"])

    def racing(session: Session, since: Any, states: Any) -> Any:
        out = real(session, since, states)
        thread = threading.Thread(target=submit)
        thread.start()
        if session.get_bind().dialect.name == "postgresql":
            thread.join()  # committed before the cycle reads anything else
        threads.append(thread)
        return out

    threads: list[threading.Thread] = []
    monkeypatch.setattr(job_cycle, "stamps_since", racing)
    for _ in range(6):
        cloud.tick(1)
    for thread in threads:
        thread.join()
    monkeypatch.setattr(job_cycle, "stamps_since", real)
    cloud.tick(1)
    assert svc._view.reloads == reloads
    assert len(submitted) == 6 and set(submitted) <= set(svc._view.pending) | set(svc._view.active)


def test_a_cycle_placing_many_writes_every_event_and_audit_record(cloud: Cloud) -> None:
    """60 placements in one cycle: their events and audit records go in bulk (COPY on PostgreSQL, from
    50 rows), each one written, and the audit chain stays whole."""
    cloud.tick()
    audit = cloud.rt.services.sovereignty.audit
    before = audit.verify().tree_size
    r = cloud.http.post("/v1/jobs", json=SPEC, params={"array": "0-59"}, headers=auth(cloud.tenant))
    assert r.status_code == 201, r.text
    array_id = r.json()["array"]["id"]
    submitted = audit.verify().tree_size
    cloud.tick(1)
    assert states(cloud, array_id) == {"scheduled": 60}
    check = audit.verify()
    assert check.ok and check.tree_size >= submitted + 60 > before  # a record per placement, chain whole
    with cloud.rt.db.transaction() as s:
        events = repo.events(s, job_id=None, org_id=cloud.org_id, since=None, limit=1000)
    assert sum(e.to_state.value == "scheduled" for e in events) == 60
    assert sum(e.code == "submitted" for e in events) == 60
    assert len({e.job_id for e in events if e.to_state.value == "scheduled"}) == 60
