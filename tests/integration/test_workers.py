"""`brique up --workers N`: N real processes serve one port as replicas of one SQLite file.

Pins: fresh connections reach every worker; exactly one leads; jobs submitted through any worker are
placed at once although the scheduling interval is 30 s (a follower's wake-up reaches the leader's
process); a killed worker is started again; SIGTERM to the first stops them all, and SIGKILL of the
first takes the others with it; more than one worker on an in-memory database is refused clearly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import SMALL_FLEET
from tests.support.postgres import free_port
from tests.support.procs import gone
from tests.support.server import BRIQUE, Server

WORKERS = 2


def _who(server: Server, key: str) -> dict[str, bool]:
    """Replica id -> leading, over fresh connections (the kernel spreads them over the workers)."""
    seen: dict[str, bool] = {}
    for _ in range(40):
        body = httpx.get(f"{server.url}/v1/system/status", headers={"Authorization": f"Bearer {key}"}).json()
        seen[body["replica"]["id"]] = body["replica"]["leading"]
        if len(seen) == WORKERS:
            break
    return seen


def _wait(cond: object, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_workers_share_the_port_one_leads_and_a_killed_worker_comes_back(tmp_path: Path) -> None:
    server = Server(home=tmp_path / "home", db_url=f"sqlite:///{tmp_path / 'w.db'}", fleet=SMALL_FLEET,
                    args=["--workers", str(WORKERS)], env={"BRIQUE_CYCLE_INTERVAL_S": "30"})  # fmt: skip
    assert "with 2 workers" in server.start()
    try:
        key = server.admin_key()
        _wait(lambda: len(_who(server, key)) == WORKERS, "both workers to answer")
        assert sorted(_who(server, key).values()) == [False, True]  # exactly one leads

        op = {"Authorization": f"Bearer {key}"}
        org = httpx.post(
            f"{server.url}/v1/orgs", json={"name": "acme", "admin_email": "a@acme.eu"}, headers=op
        )
        tenant = {"Authorization": f"Bearer {org.json()['admin_key']['token']}"}
        assert httpx.post(
            f"{server.url}/v1/orgs/acme/projects", json={"name": "llm"}, headers=tenant
        ).is_success
        ids = []
        for i in range(12):  # a fresh connection each: the submissions land on both workers
            r = httpx.post(f"{server.url}/v1/jobs", headers=tenant,
                           json={"name": f"j{i}", "project": "llm", "command": "x", "gpus": 1, "sleep_s": 600})  # fmt: skip
            assert r.status_code == 201, r.text
            ids.append(r.json()["job"]["id"])

        def placed() -> bool:
            states = [httpx.get(f"{server.url}/v1/jobs/{j}", headers=tenant).json()["state"] for j in ids]
            return all(s in ("scheduled", "running") for s in states)

        _wait(placed, "every job placed well before the 30 s interval", timeout=10)

        (first_child,) = server.children()
        os.kill(first_child, signal.SIGKILL)
        _wait(lambda: server.children() not in ([], [first_child]), "the killed worker to be started again")
        _wait(lambda: len(_who(server, key)) == WORKERS, "the new worker to answer")

        workers = server.children()
        server.stop()  # SIGTERM to the first worker
        _wait(lambda: not any(Path(f"/proc/{p}").exists() for p in workers), "the other workers to stop")
    finally:
        server.stop(signal.SIGKILL)


def test_sigkill_of_the_first_worker_takes_the_others_with_it(tmp_path: Path) -> None:
    server = Server(home=tmp_path / "home", db_url=f"sqlite:///{tmp_path / 'k.db'}", fleet=SMALL_FLEET,
                    args=["--workers", "3"])  # fmt: skip
    server.start()
    try:
        _wait(lambda: len(server.children()) == 2, "two more workers")
        workers = server.children()
        server.stop(signal.SIGKILL)
        _wait(lambda: all(gone(p) for p in workers), "the orphaned workers to stop")
    finally:
        server.stop(signal.SIGKILL)


def test_workers_need_a_database_other_processes_can_open(tmp_path: Path) -> None:
    r = subprocess.run([*BRIQUE, "up", "--workers", "2", "--db", "sqlite:///:memory:", "--port", str(free_port())],
                       env={**os.environ, "BRIQUE_HOME": str(tmp_path / "home")}, capture_output=True, text=True,
                       timeout=60)  # fmt: skip
    assert r.returncode != 0
    assert "--workers: more than 1 needs a database file or PostgreSQL" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr
