"""API keys checked valid may be trusted for `auth_cache_s`; a revocation made here counts at once."""

from __future__ import annotations

import pytest

from brique.errors import Unauthenticated
from brique.server.runtime import Runtime
from brique.services.tenancy import TenancyService


def test_a_trusted_key_is_refused_as_soon_as_it_is_revoked(runtime: Runtime, settings) -> None:  # type: ignore[no-untyped-def]
    token = runtime.services.tenancy.bootstrap(settings.admin_key_file)
    assert token is not None
    ticks = [0.0]
    tenancy = TenancyService(runtime.db, runtime.clock, auth_cache_s=60, monotonic=lambda: ticks[0])
    admin = tenancy.authenticate(token)
    extra = tenancy.create_key(admin, None, "ci", None)
    who = tenancy.authenticate(extra.token)
    assert tenancy.authenticate(extra.token) == who  # trusted: no database read needed
    tenancy.revoke_key(admin, extra.key.id)
    with pytest.raises(Unauthenticated):
        tenancy.authenticate(extra.token)
    with pytest.raises(Unauthenticated):  # a wrong secret under a trusted lookup is still refused
        tenancy.authenticate(token[:-4] + "AAAA")
    assert tenancy.authenticate(token).user_id == admin.user_id


def test_a_revocation_made_elsewhere_counts_within_the_trust_window(runtime: Runtime, settings) -> None:  # type: ignore[no-untyped-def]
    token = runtime.services.tenancy.bootstrap(settings.admin_key_file)
    assert token is not None
    ticks = [0.0]
    here = TenancyService(runtime.db, runtime.clock, auth_cache_s=2, monotonic=lambda: ticks[0])
    elsewhere = TenancyService(runtime.db, runtime.clock)  # another replica: no trust window
    admin = elsewhere.authenticate(token)
    extra = elsewhere.create_key(admin, None, "ci", None)
    here.authenticate(extra.token)
    elsewhere.revoke_key(admin, extra.key.id)
    ticks[0] = 2.0  # the window has passed: read again, and refused
    with pytest.raises(Unauthenticated):
        here.authenticate(extra.token)
    with pytest.raises(Unauthenticated):
        elsewhere.authenticate(extra.token)
