"""`api.fast_submit`: a plain POST /v1/jobs answered outside FastAPI's router gives what the route gives.

A query string (`?dry_run=false`, the same plain submission) sends a request through FastAPI's route,
so each case is sent both ways and the answers compared: status, error body, headers that matter.
"""

from __future__ import annotations

from typing import Any

import pytest

from brique.store.repos import audit as audit_repo
from tests.integration.conftest import Cloud, auth

SPEC = {"name": "j", "project": "llm", "command": "python train.py", "gpus": 8}


def _both(cloud: Cloud, headers: dict[str, str], body: Any = None, content: bytes | None = None) -> list[Any]:
    """The same request through the fast path and through the route."""
    out = []
    for url in ("/v1/jobs", "/v1/jobs?dry_run=false"):
        if content is not None:
            out.append(cloud.http.post(url, content=content, headers=headers))
        else:
            out.append(cloud.http.post(url, json=SPEC if body is None else body, headers=headers))
    return out


def _audit_size(cloud: Cloud) -> int:
    with cloud.rt.db.transaction() as s:
        head = audit_repo.head(s)
    return head[0] if head else 0


@pytest.mark.parametrize(
    "case",
    ["no credentials", "unknown bearer", "bearer without token", "basic scheme", "lowercase bearer"],
)
def test_credentials_are_read_as_the_route_reads_them(cloud: Cloud, case: str) -> None:
    headers = {
        "no credentials": {},
        "unknown bearer": {"Authorization": "Bearer brq_nope"},
        "bearer without token": {"Authorization": "Bearer   ", "X-Api-Key": cloud.tenant},
        "basic scheme": {"Authorization": "Basic dXNlcjpwdw==", "X-Api-Key": cloud.tenant},
        "lowercase bearer": {"Authorization": f"bearer {cloud.tenant}"},
    }[case]
    fast, routed = _both(cloud, headers)
    assert fast.status_code == routed.status_code
    if fast.status_code == 201:
        assert fast.json()["job"].keys() == routed.json()["job"].keys()
        assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
    else:
        assert fast.status_code == 401 and fast.json() == routed.json()
        assert fast.headers["www-authenticate"] == routed.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("body", "content"),
    [({**SPEC, "colour": "blue"}, None), ({**SPEC, "gpus": 0}, None), (None, b"{not json"), ([1, 2], None)],
)
def test_bad_bodies_get_the_same_error(cloud: Cloud, body: Any, content: bytes | None) -> None:
    fast, routed = _both(cloud, auth(cloud.tenant), body if body is not None else [], content)
    assert fast.status_code == routed.status_code == 422
    assert fast.json() == routed.json()


def test_idempotency_keys_replay_and_their_bound_is_the_routes(cloud: Cloud) -> None:
    keyed = {**auth(cloud.tenant), "Idempotency-Key": "k-1"}
    first = cloud.http.post("/v1/jobs", json=SPEC, headers=keyed)
    again, routed = _both(cloud, keyed)
    assert first.status_code == 201 and again.status_code == routed.status_code == 200
    assert first.json()["job"]["id"] == again.json()["job"]["id"] == routed.json()["job"]["id"]
    too_long = {**auth(cloud.tenant), "Idempotency-Key": "k" * 201}
    fast, routed = _both(cloud, too_long)
    assert fast.status_code == routed.status_code == 422 and fast.json() == routed.json()


def test_each_submission_is_audited_once_and_counted_by_the_rate_limit(cloud: Cloud) -> None:
    before = _audit_size(cloud)
    fast, routed = _both(cloud, auth(cloud.tenant))
    assert fast.status_code == routed.status_code == 201
    size = _audit_size(cloud)
    assert size == before + 2  # one record each, written with the job, naming the operation
    with cloud.rt.db.transaction() as s:
        records = audit_repo.records_after(s, before, 10)
    assert [(r.action, r.outcome) for r in records] == [("createJob", "201")] * 2
    # the fixture's burst is 50 submissions: invalid ones sent the fast way count too
    # (refilled at 10 per second: sent faster than that, they run out)
    codes = []
    while 429 not in codes and len(codes) < 1000:
        codes.append(cloud.http.post("/v1/jobs", json={"bad": 1}, headers=auth(cloud.tenant)).status_code)
    assert codes[-1] == 429 and set(codes[:-1]) == {422}
