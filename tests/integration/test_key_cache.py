"""The API-key cache: a verified key is answered from memory, yet a revocation or an org suspension
takes effect at once on the replica that made it and within the cache's bound on another replica
sharing the database; a key that expires is refused on time; a wrong secret never hits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from brique.clock import FixedClock
from brique.domain.tenancy import Principal, Role
from brique.errors import OrgSuspended, Unauthenticated
from brique.services.key_cache import KeyCache, token_digest
from brique.services.tenancy import TenancyService
from brique.store.db import Database, migrate

TTL_S = 5.0
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def replicas(db_url: str) -> tuple[TenancyService, TenancyService, Ticks, FixedClock]:
    """Two tenancy services (two replicas) over one database, each with its own key cache."""
    db = Database(db_url)
    migrate(db.engine)
    clock, ticks = FixedClock(T0), Ticks()
    a = TenancyService(db, clock, keys=KeyCache(TTL_S, monotonic=ticks))
    b = TenancyService(db, clock, keys=KeyCache(TTL_S, monotonic=ticks))
    return a, b, ticks, clock


def _tenant(svc: TenancyService, tmp: Path) -> tuple[Principal, str]:
    admin = svc.authenticate(svc.bootstrap(tmp / "admin.key"))
    made = svc.create_org(admin, "acme", None, "FR", "admin@acme.eu")
    assert made.admin_key is not None
    return admin, made.admin_key.token


def test_revocation_is_immediate_here_and_bounded_on_another_replica(replicas, tmp_path: Path) -> None:
    a, b, ticks, _ = replicas
    _, token = _tenant(a, tmp_path)
    who = a.authenticate(token)
    assert b.authenticate(token) == who and b.cached(token) == who  # both replicas now hold it
    a.revoke_key(who, who.key_id)
    with pytest.raises(Unauthenticated, match="revoked"):
        a.authenticate(token)  # the revoking replica: at once
    assert b.authenticate(token) == who  # the other: from its cache, for less than the bound
    ticks.t += TTL_S
    with pytest.raises(Unauthenticated, match="revoked"):
        b.authenticate(token)


def test_org_suspension_forgets_its_keys(replicas, tmp_path: Path) -> None:
    a, b, ticks, _ = replicas
    admin, token = _tenant(a, tmp_path)
    a.authenticate(token)
    b.authenticate(token)
    a.suspend_org(admin, "acme", "unpaid invoices")
    with pytest.raises(OrgSuspended):
        a.authenticate(token)
    ticks.t += TTL_S
    with pytest.raises(OrgSuspended):
        b.authenticate(token)


def test_expiry_and_wrong_secrets_are_never_served_from_memory(replicas, tmp_path: Path) -> None:
    a, _, _, clock = replicas
    _, token = _tenant(a, tmp_path)
    who = a.authenticate(token)
    short = a.create_key(who, None, "short", expires_days=1).token
    assert a.authenticate(short).key_id != who.key_id
    clock.at += timedelta(days=1)
    with pytest.raises(Unauthenticated, match="expired"):
        a.authenticate(short)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(Unauthenticated, match="invalid"):
        a.authenticate(forged)
    assert a.cached(forged) is None and a.cached(token) == who


def test_a_revocation_racing_a_verification_is_not_cached() -> None:
    """A verification that read the key before a revocation committed must not cache it after."""
    cache = KeyCache(TTL_S, monotonic=Ticks())
    who = Principal("usr_1", "key_1", Role.TENANT_ADMIN, "org_1")
    epoch = cache.epoch  # the verification starts and reads the (still valid) key
    cache.forget(lambda p: p.key_id == "key_1")  # meanwhile the key is revoked
    cache.put(token_digest("t"), who, None, epoch)
    assert cache.get(token_digest("t"), T0) is None


def test_zero_ttl_caches_nothing() -> None:
    cache = KeyCache(0)
    cache.put(token_digest("t"), Principal("u", "k", Role.TENANT_ADMIN, "o"), None, cache.epoch)
    assert cache.get(token_digest("t"), T0) is None
