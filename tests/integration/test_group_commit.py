"""Submissions committed together (group commit), on SQLite and PostgreSQL: each keeps its own outcome
(a refused one fails nobody else, a failed write is retried member by member), keys replay, quotas
count the batch's own jobs, and the audit chain stays whole."""

from __future__ import annotations

import threading

from sqlalchemy import event
from starlette.testclient import TestClient

from brique.api.app import create_app
from brique.config import Settings
from brique.domain.job_lifecycle import JobSpec
from brique.domain.jobs import Tier
from brique.domain.tenancy import Principal
from brique.errors import Conflict, Duplicate, NotFound, RateLimited
from brique.server.runtime import Runtime
from brique.services.audit import Entry
from brique.services.jobs import JobService, Submitted, _Pending
from tests.integration.conftest import Api, auth, make_tenant


def tenant(api: Api, runtime: Runtime, name: str) -> Principal:
    t = make_tenant(api, name)
    assert api.http.post(f"/v1/orgs/{name}/projects", json={"name": "llm"}, headers=auth(t.admin_key)).status_code == 201
    return runtime.services.tenancy.authenticate(t.admin_key)


def pending(jobs: JobService, who: Principal, name: str, *, project: str = "llm", gpus: int = 1,
            key: str | None = None,
            request_hash: str | None = None) -> _Pending:  # fmt: skip
    spec = JobSpec(name=name, project=project, command="train.sh", gpus=gpus, tier=Tier.STANDARD)
    audit = lambda replayed: Entry(who.user_id, who.org_id, "createJob", "/v1/jobs", "200" if replayed else "201")  # noqa: E731
    assert who.org_id is not None
    return _Pending(who, who.org_id, spec, key, request_hash or f"h-{gpus}", audit, jobs.clock.now())


def test_a_batch_gives_each_submission_its_own_outcome(api: Api, runtime: Runtime) -> None:
    jobs = runtime.services.jobs
    acme, bank = tenant(api, runtime, "acme"), tenant(api, runtime, "bank")
    audit_before = runtime.services.sovereignty.audit.verify().tree_size
    batch = [
        pending(jobs, acme, "a"),
        pending(jobs, acme, "lost", project="nope"),
        pending(jobs, acme, "keyed", key="k1"),
        pending(jobs, acme, "keyed-again", key="k1"),  # the same request again: a replay of the one before
        pending(jobs, acme, "other", gpus=2, key="k1", request_hash="h-other"),  # same key, other request
        pending(jobs, bank, "b", key="k1"),  # another org's key space
    ]
    out = jobs._submit_batch(batch)
    assert isinstance(out[0], Submitted) and not out[0].replayed and out[0].job.org_id == acme.org_id
    assert isinstance(out[1], NotFound) and out[1].field == "project"
    assert isinstance(out[2], Submitted) and not out[2].replayed
    assert isinstance(out[3], Submitted) and out[3].replayed and out[3].job.id == out[2].job.id
    assert isinstance(out[4], Conflict) and out[4].field == "Idempotency-Key"
    assert isinstance(out[5], Submitted) and out[5].job.org_id == bank.org_id and out[5].job.id != out[2].job.id
    assert sorted(j.name for j in jobs.list(acme, None, None, 100)) == ["a", "keyed"]
    assert [j.name for j in jobs.list(bank, None, None, 100)] == ["b"]
    check = runtime.services.sovereignty.audit.verify()
    assert check.ok and check.tree_size == audit_before + 4  # a, keyed, its replay, b: refusals write nothing


def test_a_failed_write_is_retried_one_by_one(api: Api, runtime: Runtime) -> None:
    jobs = runtime.services.jobs
    acme = tenant(api, runtime, "acme")
    taken = jobs._submit_batch([pending(jobs, acme, "first")])[0]
    assert isinstance(taken, Submitted)
    ids = iter(["job_new1", taken.job.id, "job_new2"] * 2)  # the second collides: the batch fails, then it alone
    jobs.ids = lambda prefix: next(ids)
    out = jobs._submit_batch([pending(jobs, acme, "x"), pending(jobs, acme, "y"), pending(jobs, acme, "z")])
    assert isinstance(out[0], Submitted) and out[0].job.id == "job_new1"
    assert isinstance(out[1], Duplicate)  # only the colliding one fails
    assert isinstance(out[2], Submitted) and out[2].job.id == "job_new2"
    assert runtime.services.sovereignty.audit.verify().ok


def test_the_pending_quota_counts_the_batch_itself(api: Api, runtime: Runtime) -> None:
    jobs = runtime.services.jobs
    acme = tenant(api, runtime, "acme")
    jobs.quotas = type(jobs.quotas)(max_pending=2)
    out = jobs._submit_batch([pending(jobs, acme, f"j{i}") for i in range(3)])
    assert [type(o) for o in out] == [Submitted, Submitted, RateLimited]


def test_the_pending_quota_is_counted_only_near_the_limit(runtime: Runtime, settings: Settings) -> None:
    """Far below the quota a fresh bound admits without counting; near it, every batch counts, and
    the refusal rests on that exact count (jobs placed or cancelled meanwhile count again)."""
    token = runtime.services.tenancy.bootstrap(settings.admin_key_file)
    assert token is not None
    with TestClient(create_app(runtime, run_scheduler=False)) as http:  # no cycle places them meanwhile
        acme = tenant(Api(http, token), runtime, "acme")
    jobs = runtime.services.jobs
    counts: list[str] = []

    def spy(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        sql = statement.lower()  # the submission's context read with its count (the loop counts too)
        if "count(" in sql and "jobs.state" in sql and "projects" in sql:
            counts.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", spy)
    try:
        jobs.quotas = type(jobs.quotas)(max_pending=1_000)  # margin: 100
        assert isinstance(jobs._submit_batch([pending(jobs, acme, "first")])[0], Submitted)
        assert len(counts) == 1  # the first submission counts
        for i in range(5):
            assert isinstance(jobs._submit_batch([pending(jobs, acme, f"fast{i}")])[0], Submitted)
        assert len(counts) == 1  # 6 pending, far below 900: the bound answers
        jobs.quotas = type(jobs.quotas)(max_pending=8)  # margin 100 > quota: every batch counts
        out = jobs._submit_batch([pending(jobs, acme, f"near{i}") for i in range(3)])
        assert [type(o) for o in out] == [Submitted, Submitted, RateLimited]
        assert len(counts) == 2  # once for the batch
        victim = out[0]
        assert isinstance(victim, Submitted)
        jobs.cancel(acme, victim.job.id)  # one slot back: seen by the next exact count
        assert isinstance(jobs._submit_batch([pending(jobs, acme, "again")])[0], Submitted)
        assert isinstance(jobs._submit_batch([pending(jobs, acme, "over")])[0], RateLimited)
        assert len(counts) == 4
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", spy)


def test_concurrent_submissions_through_the_api_all_land(api: Api, runtime: Runtime) -> None:
    acme = make_tenant(api, "acme")
    api.http.post("/v1/orgs/acme/projects", json={"name": "llm"}, headers=auth(acme.admin_key))
    codes: list[int] = []

    def client(c: int) -> None:
        for i in range(10):
            body = {"name": f"c{c}-{i}", "project": "llm" if i % 5 else "nope", "command": "x", "gpus": 1}
            codes.append(api.http.post("/v1/jobs", json=body, headers=auth(acme.admin_key)).status_code)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [201] * 48 + [404] * 12
    listed = api.http.get("/v1/jobs", headers=auth(acme.admin_key)).json()
    assert len(listed) == 48 and len({j["id"] for j in listed}) == 48
    assert runtime.services.sovereignty.audit.verify().ok
    metrics = api.http.get("/metrics").text
    transactions, committed = (_sample(metrics, name) for name in
                               ("brique_submission_transactions_total", "brique_submissions_committed_total"))  # fmt: skip
    assert committed == 60 and 0 < transactions <= committed  # every attempt went through group commit


def _sample(metrics: str, name: str) -> float:
    (line,) = [line for line in metrics.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])
