"""The migrations build exactly the schema the ORM rows describe, on both database kinds, and a user's
identity at an org's identity provider stays linked by its stable subject."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from brique.domain.tenancy import Role, SsoLogin
from brique.errors import PermissionDenied
from brique.server.runtime import Runtime
from brique.store import billing_tables, commerce_tables, inference_tables, lease_tables  # noqa: F401
from brique.store.tables import Base


def test_migrations_match_the_orm_rows(runtime: Runtime) -> None:
    with runtime.db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []


def _login(subject: str, email: str, issuer: str = "https://idp.acme.eu") -> SsoLogin:
    return SsoLogin(provider="acme-idp", issuer=issuer, subject=subject, email=email)


def test_single_sign_on_links_the_providers_subject(runtime: Runtime, tmp_path) -> None:  # type: ignore[no-untyped-def]
    tenancy = runtime.services.tenancy
    admin = tenancy.authenticate(tenancy.bootstrap(tmp_path / "admin.key"))
    acme = tenancy.create_org(admin, "acme", None, "FR", "boss@acme.eu").org
    tenancy.create_org(admin, "bank", None, "DE", "eve@bank.eu")
    ttl = timedelta(hours=1)

    first = tenancy.single_sign_on("acme", _login("sub-carol", "carol@acme.eu"), Role.TENANT_MEMBER, ttl)
    carol = first.key.user_id
    assert tenancy.authenticate(first.token).org_id == acme.id
    # the provider renamed her address: same subject, same Brique user (no second account)
    again = tenancy.single_sign_on("acme", _login("sub-carol", "carol.dupont@acme.eu"), Role.TENANT_MEMBER, ttl)
    assert again.key.user_id == carol
    assert [u.email for u in tenancy.list_users(admin, "acme")].count("carol@acme.eu") == 1
    # an existing user signing in for the first time is linked by email, then by subject
    boss = tenancy.single_sign_on("acme", _login("sub-boss", "boss@acme.eu"), Role.TENANT_MEMBER, ttl)
    assert tenancy.authenticate(boss.token).role is Role.TENANT_ADMIN  # kept, not the default role
    # another subject claiming a linked address is refused: an address is not an identity
    with pytest.raises(PermissionDenied, match="linked to another identity"):
        tenancy.single_sign_on("acme", _login("sub-mallory", "carol@acme.eu"), Role.TENANT_MEMBER, ttl)
    # another org's user is never merged, by email or by subject
    with pytest.raises(PermissionDenied, match="another organization"):
        tenancy.single_sign_on("acme", _login("sub-eve", "eve@bank.eu"), Role.TENANT_MEMBER, ttl)
    with pytest.raises(PermissionDenied, match="another organization"):
        tenancy.single_sign_on("bank", _login("sub-carol", "carol@acme.eu"), Role.TENANT_MEMBER, ttl)
    # the same subject at another issuer is another identity
    other = tenancy.single_sign_on(
        "acme", _login("sub-carol", "c2@acme.eu", issuer="https://other.example"), Role.TENANT_VIEWER, ttl
    )
    assert other.key.user_id != carol
