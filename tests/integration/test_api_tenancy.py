"""RBAC and tenant isolation through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import MetaData, select

from brique.server.runtime import Runtime
from tests.integration.conftest import Api, auth, make_member, make_tenant


def test_operator_admin_creates_org_with_tenant_admin_key(api: Api) -> None:
    a = make_tenant(api, "acme")
    me = api.http.get("/v1/whoami", headers=auth(a.admin_key)).json()
    assert me["role"] == "tenant-admin" and me["org_id"] == a.org_id and me["org_name"] == "acme"


def test_tenant_sees_only_its_own_org(api: Api) -> None:
    a, b = make_tenant(api, "acme"), make_tenant(api, "bank")
    listed = api.http.get("/v1/orgs", headers=auth(a.admin_key)).json()
    assert [o["name"] for o in listed] == ["acme"]
    everything = api.http.get("/v1/orgs", headers=auth(api.admin_key)).json()
    assert sorted(o["name"] for o in everything) == ["acme", "bank"]
    for ref in (b.org_id, "bank"):
        r = api.http.get(f"/v1/orgs/{ref}", headers=auth(a.admin_key))
        assert r.status_code == 404
        assert r.json() == {
            "error": {"code": "not_found", "message": f"organization '{ref}' not found", "field": "org"}
        }


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/orgs/{org}/projects", None),
        ("POST", "/v1/orgs/{org}/projects", {"name": "sneaky"}),
        ("GET", "/v1/orgs/{org}/projects/secret", None),
        ("GET", "/v1/orgs/{org}/users", None),
        ("POST", "/v1/orgs/{org}/users", {"email": "x@y.eu", "role": "tenant-admin"}),
        ("GET", "/v1/keys?org={org}", None),
    ],
    ids=["list-projects", "create-project", "read-project", "list-users", "create-user", "list-keys"],
)
def test_foreign_org_objects_answer_404_like_missing_ones(
    api: Api, method: str, path: str, body: dict | None
) -> None:
    a, b = make_tenant(api, "acme"), make_tenant(api, "bank")
    assert (
        api.http.post(
            f"/v1/orgs/{b.org_id}/projects", json={"name": "secret"}, headers=auth(b.admin_key)
        ).status_code
        == 201
    )
    foreign = api.http.request(method, path.format(org=b.org_id), json=body, headers=auth(a.admin_key))
    missing = api.http.request(
        method, path.format(org="org_doesnotexist00"), json=body, headers=auth(a.admin_key)
    )
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"]["code"] == "not_found"
    # nothing was created in the other tenant
    projects = api.http.get(f"/v1/orgs/{b.org_id}/projects", headers=auth(b.admin_key)).json()
    assert [p["name"] for p in projects] == ["secret"]


def test_tenant_cannot_touch_another_tenants_keys_or_users(api: Api) -> None:
    a, b = make_tenant(api, "acme"), make_tenant(api, "bank")
    b_keys = api.http.get("/v1/keys", headers=auth(b.admin_key)).json()
    b_key_id, b_user_id = b_keys[0]["id"], b_keys[0]["user_id"]
    r = api.http.delete(f"/v1/keys/{b_key_id}", headers=auth(a.admin_key))
    assert r.status_code == 404
    r = api.http.post("/v1/keys", json={"name": "steal", "user_id": b_user_id}, headers=auth(a.admin_key))
    assert r.status_code == 404
    own = api.http.get("/v1/keys", headers=auth(a.admin_key)).json()
    assert {k["id"] for k in own}.isdisjoint({b_key_id})
    assert api.http.get("/v1/whoami", headers=auth(b.admin_key)).status_code == 200  # B's key still works


def test_viewer_cannot_write(api: Api) -> None:
    a = make_tenant(api, "acme")
    viewer = make_member(api, a, "v@acme.eu", "tenant-viewer")
    assert api.http.get(f"/v1/orgs/{a.org_id}/projects", headers=auth(viewer)).status_code == 200
    for method, path, body in [
        ("POST", f"/v1/orgs/{a.org_id}/projects", {"name": "p1"}),
        ("POST", f"/v1/orgs/{a.org_id}/users", {"email": "z@acme.eu", "role": "tenant-viewer"}),
        ("POST", "/v1/keys", {"name": "mine"}),
    ]:
        r = api.http.request(method, path, json=body, headers=auth(viewer))
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"]["code"] == "forbidden"


def test_member_creates_own_keys_only(api: Api) -> None:
    a = make_tenant(api, "acme")
    member = make_member(api, a, "m@acme.eu", "tenant-member")
    assert api.http.post("/v1/keys", json={"name": "laptop"}, headers=auth(member)).status_code == 201
    admin_user = api.http.get("/v1/whoami", headers=auth(a.admin_key)).json()["user_id"]
    r = api.http.post("/v1/keys", json={"name": "x", "user_id": admin_user}, headers=auth(member))
    assert r.status_code == 403
    mine = api.http.get("/v1/keys", headers=auth(member)).json()
    assert len(mine) == 2 and {k["user_id"] for k in mine} == {mine[0]["user_id"]}


def test_operator_and_tenant_identities_are_separate(api: Api) -> None:
    a = make_tenant(api, "acme")
    r = api.http.post(f"/v1/orgs/{a.org_id}/projects", json={"name": "ops"}, headers=auth(api.admin_key))
    assert r.status_code == 403 and r.json()["error"]["code"] == "tenant_only"
    r = api.http.post("/v1/orgs", json={"name": "evil"}, headers=auth(a.admin_key))
    assert r.status_code == 403 and r.json()["error"]["code"] == "operator_only"
    r = api.http.post(
        f"/v1/orgs/{a.org_id}/users",
        json={"email": "o@acme.eu", "role": "operator"},
        headers=auth(a.admin_key),
    )
    assert r.status_code == 403 and r.json()["error"]["field"] == "role"
    r = api.http.get("/v1/operators", headers=auth(a.admin_key))
    assert r.status_code == 403
    r = api.http.post(
        "/v1/operators", json={"email": "ops@op.eu", "role": "auditor"}, headers=auth(api.admin_key)
    )
    assert r.status_code == 201 and r.json()["org_id"] is None


def test_auditor_reads_but_cannot_create(api: Api) -> None:
    make_tenant(api, "acme")
    r = api.http.post(
        "/v1/operators", json={"email": "aud@op.eu", "role": "auditor"}, headers=auth(api.admin_key)
    )
    key = api.http.post(
        "/v1/keys", json={"name": "a", "user_id": r.json()["id"]}, headers=auth(api.admin_key)
    ).json()["token"]
    assert [o["name"] for o in api.http.get("/v1/orgs", headers=auth(key)).json()] == ["acme"]
    assert api.http.post("/v1/orgs", json={"name": "x1"}, headers=auth(key)).status_code == 403


def test_authentication_errors(api: Api) -> None:
    assert api.http.get("/v1/orgs").json()["error"]["code"] == "unauthenticated"
    assert api.http.get("/v1/orgs").status_code == 401
    assert (
        api.http.get("/v1/orgs", headers=auth("nonsense")).json()["error"]["message"] == "malformed API key"
    )
    forged = api.admin_key[:-4] + "AAAA"
    assert api.http.get("/v1/orgs", headers=auth(forged)).json()["error"]["message"] == "invalid API key"
    assert api.http.get("/v1/orgs", headers={"X-API-Key": api.admin_key}).status_code == 200


def test_revoked_key_stops_working(api: Api) -> None:
    a = make_tenant(api, "acme")
    new = api.http.post("/v1/keys", json={"name": "tmp"}, headers=auth(a.admin_key)).json()
    assert api.http.get("/v1/whoami", headers=auth(new["token"])).status_code == 200
    r = api.http.delete(f"/v1/keys/{new['id']}", headers=auth(a.admin_key))
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    r = api.http.get("/v1/whoami", headers=auth(new["token"]))
    assert r.status_code == 401 and r.json()["error"]["message"] == "API key revoked or expired"


def test_validation_errors_name_the_field(api: Api) -> None:
    h = auth(api.admin_key)
    r = api.http.post("/v1/orgs", json={"name": "Bad Name"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "name"
    r = api.http.post("/v1/orgs", json={"name": "okname", "country": "XX"}, headers=h)
    assert r.json()["error"] == {
        "code": "invalid_input",
        "message": "'XX' is not an ISO 3166-1 alpha-2 country code",
        "field": "country",
    }
    r = api.http.post("/v1/orgs", json={}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "name"
    r = api.http.post("/v1/orgs", json={"name": "okname", "admin_email": "not-an-email"}, headers=h)
    assert r.json()["error"]["field"] == "admin_email"
    r = api.http.post("/v1/keys", json={"expires_days": 0}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "expires_days"


def test_duplicates_conflict(api: Api) -> None:
    a = make_tenant(api, "acme")
    r = api.http.post("/v1/orgs", json={"name": "acme"}, headers=auth(api.admin_key))
    assert r.status_code == 409 and r.json()["error"]["field"] == "name"
    h = auth(a.admin_key)
    assert api.http.post(f"/v1/orgs/{a.org_id}/projects", json={"name": "p1"}, headers=h).status_code == 201
    r = api.http.post("/v1/orgs/acme/projects", json={"name": "p1"}, headers=h)
    assert r.status_code == 409
    r = api.http.post(f"/v1/orgs/{a.org_id}/users", json={"email": "admin@acme.eu"}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["field"] == "email"


def test_keys_are_never_stored_or_logged_in_clear(
    api: Api, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    a = make_tenant(api, "acme")
    extra = api.http.post("/v1/keys", json={"name": "ci"}, headers=auth(a.admin_key)).json()["token"]
    api.http.get("/v1/orgs", headers=auth(extra))
    secrets_ = [t.split("_", 2)[2] for t in (api.admin_key, a.admin_key, extra)]
    meta = MetaData()
    meta.reflect(runtime.db.engine)
    with runtime.db.engine.connect() as conn:
        dump = " ".join(str(row) for table in meta.sorted_tables for row in conn.execute(select(table)))
    assert "brq_" not in dump
    for secret in secrets_:
        assert secret not in dump
        assert secret not in caplog.text
    listed = api.http.get("/v1/keys", headers=auth(a.admin_key)).text
    assert all(s not in listed for s in secrets_) and '"token"' not in listed
