"""Failover for real: three `brique up` replicas of one database behind HAProxy, two `brique agent`s.

On PostgreSQL (advisory-lock election, NOTIFY wake-ups) and on one SQLite file (flock election,
Unix-socket wake-ups: replicas on one host).

A burst of jobs is submitted through the load balancer with the SDK (each job's command leaves a
marker, so a second launch would show); the leading replica is SIGKILLed mid-burst. Pins: no
accepted job lost (all succeed), none created twice by a retried POST (Idempotency-Key), none
launched twice (one marker line, one `running` event, attempt 1), another replica leads and
placement resumes within 10 s, and clients saw at most retryable errors (5xx from the load
balancer or a dropped connection), which the SDK retried: every submit call returned.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import create_engine, text

from brique.config import Settings
from brique.domain.tenancy import Role
from brique.sdk import Client
from brique.server.runtime import build_runtime
from tests.conftest import FIXTURES, IN_CI
from tests.support.haproxy import HAProxy, find_haproxy
from tests.support.server import Agent, Server

FLEET = FIXTURES / "failover-fleet.yaml"
NODES = ("lab-1/r001/n01", "lab-1/r001/n02")
REPLICAS = ("r1", "r2", "r3")
JOBS = 30
KILL_AFTER = 12  # accepted submissions before the leader is killed
SUBMITTERS = 2


class CountingTransport(httpx.HTTPTransport):
    """Counts what a client saw below the SDK's retries: 5xx answers and dropped connections."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = super().handle_request(request)
        except httpx.TransportError as exc:
            self._count(type(exc).__name__)
            raise
        if response.status_code >= 500:
            self._count(str(response.status_code))
        return response

    def _count(self, what: str) -> None:
        with self._lock:
            self.seen[what] += 1


class Cluster:
    def __init__(self, tmp: Path, db_url: str, haproxy: str) -> None:
        self.keys = keys = tmp / "shared-keys"  # replicas share the platform keys (a secret store, in production)
        keys.mkdir()
        env = {"BRIQUE_KEK_FILE": str(keys / "kek"), "BRIQUE_SIGNING_KEY_FILE": str(keys / "signing.key"),
               "BRIQUE_AGENT_TIMEOUT_S": "8", "BRIQUE_SUBMISSION_BURST": "1000",
               "BRIQUE_SUBMISSIONS_PER_MINUTE": "60000"}  # fmt: skip
        self.db_url = db_url
        self.replicas = {
            name: Server(home=tmp / name, db_url=db_url, fleet=FLEET,
                         env={**env, "BRIQUE_REPLICA_ID": name})
            for name in REPLICAS
        }  # fmt: skip
        self.lb = HAProxy(haproxy, tmp / "haproxy", {n: s.port for n, s in self.replicas.items()})
        self.tmp = tmp
        self.markers = tmp / "markers"
        self.markers.mkdir()
        self.agents: list[Agent] = []
        self.engine = create_engine(db_url)

    def prepare(self) -> str:
        """What an operator does once (here in-process, to keep the test short): the schema, the
        fleet, the operator's key, a tenant with a project and a key for the node agents."""
        rt = build_runtime(Settings(home=self.tmp / "setup", db_url=self.db_url, fleet_file=FLEET,
                                    kek_file=self.keys / "kek", signing_key_file=self.keys / "signing.key"))  # fmt: skip
        try:
            tenancy = rt.services.tenancy
            admin = tenancy.bootstrap(self.tmp / "setup" / "admin.key")
            assert admin is not None
            op = tenancy.authenticate(admin)
            user = tenancy.create_user(op, None, "agent@lab.eu", Role.NODE_AGENT)
            agent_key = tenancy.create_key(op, user.id, "agent", None).token
            org = tenancy.create_org(op, "acme", None, "FR", "a@acme.eu")
            assert org.admin_key is not None
            self.admin, self.tenant_key = admin, org.admin_key.token
            tenancy.create_project(tenancy.authenticate(self.tenant_key), "acme", "llm", "")
        finally:
            rt.close()
        return agent_key

    def boot(self) -> None:
        agent_key = self.prepare()
        with ThreadPoolExecutor(len(self.replicas)) as pool:  # all replicas start together
            list(pool.map(Server.start, self.replicas.values()))
        self.lb.start()
        via_lb = SimpleNamespace(url=self.lb.url)  # agents reach the control plane through HAProxy too
        for node in NODES:
            # no job sandbox: each job's marker must land in a host dir (isolation has its own tests)
            agent = Agent(via_lb, node, agent_key, self.tmp / "agents" / node.replace("/", "_"), gpus=4,  # type: ignore[arg-type]
                          extra=["--sandbox", "none"])  # fmt: skip
            agent.start()
            self.agents.append(agent)
        wait(lambda: self.status()["leader"] is not None and self.gpus_up() == 8, "agents registered", 30)

    def status(self) -> dict:
        r = httpx.get(f"{self.lb.url}/v1/system/status", headers={"Authorization": f"Bearer {self.admin}"})
        return r.json()

    def gpus_up(self) -> int:
        with Client(self.lb.url, self.admin) as op:
            return op.fleet_capacity().gpus.up

    def sql(self, query: str, **params: object) -> list[tuple]:
        with self.engine.connect() as c:
            return [tuple(row) for row in c.execute(text(query), params)]

    def close(self) -> None:
        for agent in self.agents:
            agent.stop()
        for server in self.replicas.values():
            server.stop(signal.SIGKILL if server.proc and server.proc.poll() is None else signal.SIGTERM)
        self.lb.stop()
        self.engine.dispose()


def wait(cond: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except (httpx.HTTPError, KeyError, ValueError):  # the balancer's own error page is not JSON
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {what}")


@pytest.fixture(params=["postgresql", "sqlite"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    haproxy = find_haproxy()
    if haproxy is None:
        if IN_CI:
            pytest.fail("haproxy not found; scripts/system-deps.sh must install it")
        pytest.skip("haproxy not installed (apt-get install haproxy)")
    if request.param == "postgresql":
        db_url = request.getfixturevalue("postgres").create_database("failover")
    else:
        db_url = f"sqlite:///{tmp_path / 'failover.db'}"
    cluster = Cluster(tmp_path, db_url, haproxy)
    try:
        started = time.monotonic()
        cluster.boot()
        print(f"\nboot: {time.monotonic() - started:.1f} s")
        yield cluster
    finally:
        cluster.close()


def test_sigkill_of_the_leader_mid_burst_loses_and_duplicates_nothing(cluster: Cluster) -> None:
    begun = time.monotonic()
    leader = cluster.status()["leader"]["id"]
    transport = CountingTransport()
    accepted: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    enough = threading.Event()
    command = f"echo run >> {cluster.markers}/$BRIQUE_JOB_ID; sleep 0.2"

    def submitter(n: int) -> None:
        with Client(cluster.lb.url, cluster.tenant_key, transport=transport) as c:
            for i in range(n):
                try:
                    job = c.submit_job({"name": f"b{i}", "project": "llm",
                                        "command": command, "gpus": 1}).job  # fmt: skip
                except Exception as exc:  # what a client would see: must not happen
                    failures.append(exc)
                    continue
                assert job is not None
                with lock:
                    accepted.append(job.id)
                    if len(accepted) >= KILL_AFTER:
                        enough.set()

    threads = [threading.Thread(target=submitter, args=(JOBS // SUBMITTERS,)) for _ in range(SUBMITTERS)]
    for t in threads:
        t.start()
    assert enough.wait(30), "the burst did not get going"
    killed_at = datetime.now(UTC)
    cluster.replicas[leader].stop(signal.SIGKILL)
    for t in threads:
        t.join(60)

    wait(lambda: cluster.status()["leader"]["id"] != leader, "another replica leads", 10)
    status = cluster.status()
    takeover_s = (datetime.fromisoformat(status["leader"]["since"]) - killed_at).total_seconds()
    wait(lambda: cluster.sql("SELECT count(*) FROM jobs WHERE state = 'succeeded'")[0][0] == JOBS,
         "every accepted job to succeed", 40)  # fmt: skip
    done_s = time.monotonic() - begun
    placements = cluster.sql("SELECT at FROM job_events WHERE to_state = 'scheduled'")
    first_placement = min(at for at in map(_utc, (r[0] for r in placements)) if at > killed_at)
    resumed_s = (first_placement - killed_at).total_seconds()
    print(f"\nfailover: leader {leader} killed; {status['leader']['id']} leads after {takeover_s:.2f} s "
          f"(term {status['leader']['term']}); placement resumed after {resumed_s:.2f} s; "
          f"client-side errors retried by the SDK: {dict(transport.seen)}; all {JOBS} done after {done_s:.1f} s")  # fmt: skip

    assert failures == []  # every submit call returned: errors were retryable and retried
    assert set(transport.seen) <= {"502", "503", "504", "RemoteProtocolError", "ReadError", "ConnectError"}
    assert len(accepted) == JOBS and len(set(accepted)) == JOBS
    in_db = {r[0] for r in cluster.sql("SELECT id FROM jobs")}
    assert in_db == set(accepted)  # nothing lost, nothing created twice by a retried POST
    runs = {p.name: p.read_text() for p in cluster.markers.iterdir()}
    assert runs == {job_id: "run\n" for job_id in accepted}  # each launched exactly once
    assert cluster.sql("SELECT job_id FROM job_events WHERE to_state = 'running' GROUP BY job_id, attempt "
                       "HAVING count(*) > 1") == []  # fmt: skip
    assert cluster.sql("SELECT max(attempt) FROM jobs") == [(1,)]
    assert 0 < takeover_s < 10 and 0 < resumed_s < 10


def _utc(at: datetime | str) -> datetime:
    """A timestamp as the database returns it (PostgreSQL: aware datetime; SQLite: naive UTC text)."""
    value = datetime.fromisoformat(at) if isinstance(at, str) else at
    return value if value.tzinfo else value.replace(tzinfo=UTC)
