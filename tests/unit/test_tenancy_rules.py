"""Who may do what: the pure role table and scope rules."""

from __future__ import annotations

import pytest

from brique.crypto import apikeys
from brique.domain.tenancy import Action, Principal, Role, can, in_scope, may_assign_role


def who(role: Role, org: str | None = "org_a") -> Principal:
    return Principal("usr_1", "key_1", role, None if role.is_operator else org)


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        (Role.OPERATOR_ADMIN, Action.ORG_CREATE, True),
        (Role.OPERATOR, Action.ORG_CREATE, False),
        (Role.OPERATOR, Action.FLEET_MANAGE, True),
        (Role.AUDITOR, Action.FLEET_MANAGE, False),
        (Role.AUDITOR, Action.USER_READ, True),
        (Role.OPERATOR_ADMIN, Action.PROJECT_CREATE, False),  # tenant-only, even for the top operator role
        (Role.TENANT_ADMIN, Action.PROJECT_CREATE, True),
        (Role.TENANT_ADMIN, Action.ORG_CREATE, False),  # operator-only
        (Role.TENANT_ADMIN, Action.FLEET_MANAGE, False),
        (Role.TENANT_MEMBER, Action.PROJECT_CREATE, False),
        (Role.TENANT_MEMBER, Action.KEY_CREATE_OWN, True),
        (Role.TENANT_MEMBER, Action.KEY_MANAGE, False),
        (Role.TENANT_VIEWER, Action.KEY_CREATE_OWN, False),
        (Role.TENANT_VIEWER, Action.PROJECT_READ, True),
        (Role.TENANT_VIEWER, Action.FLEET_READ, True),
    ],
    ids=lambda v: str(v),
)
def test_role_table(role: Role, action: Action, allowed: bool) -> None:
    assert can(who(role), action) is allowed


def test_viewer_has_no_write_action() -> None:
    writes = {Action.FLEET_MANAGE, Action.ORG_CREATE, Action.PROJECT_CREATE, Action.USER_CREATE,
              Action.KEY_CREATE_OWN, Action.KEY_MANAGE}  # fmt: skip
    assert not any(can(who(Role.TENANT_VIEWER), a) for a in writes)


def test_scope() -> None:
    assert in_scope(who(Role.AUDITOR), "org_b")
    assert in_scope(who(Role.TENANT_VIEWER), "org_a")
    assert not in_scope(who(Role.TENANT_ADMIN), "org_b")
    assert not in_scope(who(Role.TENANT_ADMIN), None)


def test_role_assignment_never_crosses_sides_or_orgs() -> None:
    assert may_assign_role(who(Role.OPERATOR_ADMIN), Role.OPERATOR, None)
    assert not may_assign_role(who(Role.OPERATOR_ADMIN), Role.OPERATOR, "org_a")  # operators have no org
    assert may_assign_role(who(Role.OPERATOR_ADMIN), Role.TENANT_ADMIN, "org_a")
    assert not may_assign_role(who(Role.OPERATOR_ADMIN), Role.TENANT_ADMIN, None)
    assert may_assign_role(who(Role.TENANT_ADMIN), Role.TENANT_VIEWER, "org_a")
    assert not may_assign_role(who(Role.TENANT_ADMIN), Role.TENANT_VIEWER, "org_b")
    assert not may_assign_role(who(Role.TENANT_ADMIN), Role.AUDITOR, "org_a")
    assert not may_assign_role(who(Role.OPERATOR), Role.TENANT_MEMBER, "org_a")


def test_api_key_tokens_hash_and_parse() -> None:
    issued = apikeys.issue()
    parsed = apikeys.parse(issued.token)
    assert parsed is not None and parsed[0] == issued.lookup
    assert apikeys.matches(parsed[1], issued.secret_hash)
    assert not apikeys.matches(parsed[1] + "x", issued.secret_hash)
    assert parsed[1] not in issued.secret_hash and len(issued.secret_hash) == 64
    assert apikeys.parse("brq_short_x") is None and apikeys.parse("sk-" + "a" * 40) is None
    assert apikeys.issue().token != issued.token
