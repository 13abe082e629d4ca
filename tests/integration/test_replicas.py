"""Replicas of one database: one leader by lock, fencing by lease term, wake-ups by a channel.

On PostgreSQL the lock is an advisory lock and wake-ups go by NOTIFY; on a SQLite file the lock is
an flock beside it and wake-ups go by a Unix datagram socket. In-process runtimes against the
suite's private PostgreSQL or a SQLite file (the failover through a real load balancer and real
processes is in test_failover.py; `brique up --workers` in test_workers.py). Pins: exactly one
replica leads; a replica whose lock dies is fenced out (its cycle's writes are refused) and another
takes over with the next term; a submit on a follower wakes the leader at once;
`GET /v1/system/status` is for operators and tells who answered and who leads; an in-memory
database has one replica, which leads.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from brique.api.app import create_app
from brique.config import Settings
from brique.domain.tenancy import Principal
from brique.errors import NotLeader
from brique.server.runtime import Runtime, build_runtime
from brique.services.replicas import LOCK_KEY, SharedLeadership
from tests.conftest import SMALL_FLEET
from tests.integration.conftest import auth
from tests.support.postgres import PostgresServer


def _settings(home: Path, db_url: str, name: str, **extra: object) -> Settings:
    return Settings(home=home, db_url=db_url, fleet_file=SMALL_FLEET, replica_id=name, **extra)


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    return postgres.create_database(f"r_{secrets.token_hex(6)}")


@pytest.fixture(params=["postgresql", "sqlite"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    """Two replicas of one control plane (shared keys dir, as replicas must share their keys)."""
    home = tmp_path / "home"
    url = (
        request.getfixturevalue("pg_url")
        if request.param == "postgresql"
        else f"sqlite:///{tmp_path / 'r.db'}"
    )
    a = build_runtime(_settings(home, url, "rep-a", cycle_interval_s=30))
    b = build_runtime(_settings(home, url, "rep-b", cycle_interval_s=30))
    yield a, b
    b.close()
    a.close()


def _lock_holder_pid(pg_url: str) -> int:
    dsn = pg_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(dsn, autocommit=True) as c:
        row = c.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted", (LOCK_KEY,)
        ).fetchone()
        assert row is not None, "nobody holds the leader lock"
        return int(row[0])


def _terminate(pg_url: str, pid: int) -> None:
    dsn = pg_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(dsn, autocommit=True) as c:
        assert c.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


@pytest.fixture
def pg_pair(pg_url: str, tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    home = tmp_path / "home"
    a = build_runtime(_settings(home, pg_url, "rep-a", cycle_interval_s=30))
    b = build_runtime(_settings(home, pg_url, "rep-b", cycle_interval_s=30))
    yield a, b
    b.close()
    a.close()


def test_exactly_one_replica_leads_and_a_fenced_leader_cannot_write(
    pg_pair: tuple[Runtime, Runtime], pg_url: str
) -> None:
    a, b = pg_pair
    la, lb = a.services.replicas, b.services.replicas
    assert isinstance(la, SharedLeadership) and isinstance(lb, SharedLeadership)
    assert la.ensure() is True
    assert lb.ensure() is False  # the lock is taken
    assert la.ensure() is True  # still ours, same term
    before = la.status(_operator(a)).leader
    assert before is not None and before.replica_id == "rep-a"
    term = before.term
    a.services.scheduling.cycle(fence=la.fence)  # the leader's cycle passes its fence

    # The leader's lock session dies (as when its process is killed or cut off): the server
    # releases the lock, B takes over with the next term, and A's next cycle is refused.
    _terminate(pg_url, _lock_holder_pid(pg_url))
    deadline = time.monotonic() + 5
    while not lb.ensure():
        assert time.monotonic() < deadline, "no takeover after the leader's session ended"
        time.sleep(0.05)
    with pytest.raises(NotLeader):
        a.services.scheduling.cycle(fence=la.fence)
    status = lb.status(_operator(b))
    assert (status.replica_id, status.leading) == ("rep-b", True)
    assert status.leader is not None and (status.leader.replica_id, status.leader.term) == ("rep-b", term + 1)
    assert la.ensure() is False  # A rejoins as a follower


def _operator(rt: Runtime) -> Principal:
    token = rt.services.tenancy.bootstrap(rt.settings.admin_key_file)
    key = token or rt.settings.admin_key_file.read_text().strip()
    return rt.services.tenancy.authenticate(key)


def test_a_submit_on_a_follower_wakes_the_leader_through_notify(pair: tuple[Runtime, Runtime]) -> None:
    a, b = pair
    _operator(a)
    a.loop.start()  # leads; cycles only every 30 s unless woken
    b.loop.start()
    assert (a.loop.leading, b.loop.leading) == (True, False)
    time.sleep(0.3)  # both past their first round, waiting out the 30 s interval
    with TestClient(create_app(b, run_scheduler=False)) as http:
        key = admin_key(b)
        org = http.post(
            "/v1/orgs", json={"name": "acme", "admin_email": "a@acme.eu"}, headers=auth(key)
        ).json()
        tenant = org["admin_key"]["token"]
        assert (
            http.post("/v1/orgs/acme/projects", json={"name": "llm"}, headers=auth(tenant)).status_code == 201
        )
        r = http.post("/v1/jobs", json={"name": "j", "project": "llm", "command": "x", "gpus": 4},
                      headers=auth(tenant))  # fmt: skip
        assert r.status_code == 201, r.text
        job_id = r.json()["job"]["id"]
        deadline = time.monotonic() + 5
        while http.get(f"/v1/jobs/{job_id}", headers=auth(tenant)).json()["state"] == "pending":
            assert time.monotonic() < deadline, "the leader was not woken by the follower's submit"
            time.sleep(0.05)


def admin_key(rt: Runtime) -> str:
    return rt.settings.admin_key_file.read_text().strip()


def test_system_status_is_for_operators_and_names_the_leader(pair: tuple[Runtime, Runtime]) -> None:
    a, b = pair
    _operator(a)
    a.loop.start()
    b.loop.start()
    with TestClient(create_app(b, run_scheduler=False)) as http:
        key = admin_key(b)
        body = http.get("/v1/system/status", headers=auth(key)).json()
        assert body["replica"] == {"id": "rep-b", "leading": False}
        assert (
            body["leader"]["id"] == "rep-a"
            and body["leader"]["term"] >= 1
            and body["database"] == b.db.engine.dialect.name
        )
        org = http.post(
            "/v1/orgs", json={"name": "acme", "admin_email": "a@acme.eu"}, headers=auth(key)
        ).json()
        r = http.get("/v1/system/status", headers=auth(org["admin_key"]["token"]))
        assert r.status_code == 403 and r.json()["error"]["code"] == "operator_only"
        assert http.get("/v1/system/status").status_code == 401
        assert "brique_scheduler_leader 0.0" in http.get("/metrics").text


def test_a_lone_sqlite_replica_leads(tmp_path: Path) -> None:
    rt = build_runtime(_settings(tmp_path / "home", f"sqlite:///{tmp_path / 'b.db'}", "solo"))
    try:
        with TestClient(create_app(rt)) as http:
            key = rt.services.tenancy.bootstrap(rt.settings.admin_key_file)
            body = http.get("/v1/system/status", headers=auth(key or admin_key(rt))).json()
        assert body["replica"] == {"id": "solo", "leading": True}
        assert body["leader"]["id"] == "solo" and body["database"] == "sqlite"
    finally:
        rt.close()


def test_a_cancel_on_a_follower_stops_a_run_only_the_leader_holds(pair: tuple[Runtime, Runtime]) -> None:
    """Simulated runs live in the leader's memory: the follower's cancel reaches them through the
    database (the stop deadline) and the leader's relay, and the job ends cancelled."""
    a, b = pair
    _operator(a)
    a.loop.start()
    b.loop.start()
    with TestClient(create_app(b, run_scheduler=False)) as http:
        key = admin_key(b)
        org = http.post(
            "/v1/orgs", json={"name": "acme", "admin_email": "a@acme.eu"}, headers=auth(key)
        ).json()
        tenant = org["admin_key"]["token"]
        assert (
            http.post("/v1/orgs/acme/projects", json={"name": "llm"}, headers=auth(tenant)).status_code == 201
        )
        body = {"name": "long", "project": "llm", "command": "x", "gpus": 4, "sleep_s": 3600, "grace_s": 0}
        job_id = http.post("/v1/jobs", json=body, headers=auth(tenant)).json()["job"]["id"]

        def state() -> str:
            return http.get(f"/v1/jobs/{job_id}", headers=auth(tenant)).json()["state"]

        deadline = time.monotonic() + 10
        while state() not in ("scheduled", "running"):  # either way, its run is in the leader's executor
            assert time.monotonic() < deadline, f"never placed: {state()}"
            time.sleep(0.05)
        assert http.post(f"/v1/jobs/{job_id}/cancel", headers=auth(tenant)).status_code == 200
        deadline = time.monotonic() + 10
        while state() != "cancelled":
            assert time.monotonic() < deadline, f"the leader never stopped it: {state()}"
            time.sleep(0.05)


def test_migration_0005_matches_the_lease_row(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from brique.store.tables import Base

    rt = build_runtime(_settings(tmp_path / "home", f"sqlite:///{tmp_path / 'm.db'}", "m"))
    try:
        with rt.db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = [d for d in compare_metadata(ctx, Base.metadata) if "leader_leases" in repr(d)]
        assert diffs == []
    finally:
        rt.close()


def test_sqlite_replicas_elect_by_flock_and_a_dead_leaders_lock_goes_with_its_process(tmp_path: Path) -> None:
    """The flock beside the database is the election: held by another process, nobody here leads;
    that process SIGKILLed, the kernel drops its lock and a replica takes the next term at once.
    A replica that lost its lock (forced here) is fenced out of the next term's writes."""
    home, url = tmp_path / "home", f"sqlite:///{tmp_path / 'f.db'}"
    a = build_runtime(_settings(home, url, "rep-a", cycle_interval_s=30))
    b = build_runtime(_settings(home, url, "rep-b", cycle_interval_s=30))
    la, lb = a.services.replicas, b.services.replicas
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "f.db-leader.lock")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert isinstance(la, SharedLeadership) and isinstance(lb, SharedLeadership)
        assert (la.ensure(), lb.ensure()) == (False, False)  # another process holds the lock
        holder.kill()
        holder.wait()
        assert la.ensure() is True and lb.ensure() is False
        term = la.status(_operator(a)).leader.term  # type: ignore[union-attr]
        a.services.scheduling.cycle(fence=la.fence)
        la._lock.release()  # as if A's lock were gone while A still runs (not possible with flock)
        assert lb.ensure() is True
        with pytest.raises(NotLeader):
            a.services.scheduling.cycle(fence=la.fence)
        status = lb.status(_operator(b))
        assert status.leader is not None and (status.leader.replica_id, status.leader.term) == (
            "rep-b",
            term + 1,
        )
    finally:
        holder.kill()
        b.close()
        a.close()


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""
