"""Tenancy: organizations, projects, users, API keys, roles, and who may do what.

Two kinds of identity never mix:
- operator identities (no org): `operator-admin`, `operator`, `auditor` run the cloud;
- tenant identities (one org): `tenant-admin`, `tenant-member`, `tenant-viewer` use it.

The rules here are pure: services ask `can(principal, action, org_id)` and turn a
`False` into `PermissionDenied` (or `NotFound` when the object belongs to another
tenant, so that its existence is never revealed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    OPERATOR_ADMIN = "operator-admin"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    NODE_AGENT = "node-agent"  # a `brique agent` serving local nodes
    TENANT_ADMIN = "tenant-admin"
    TENANT_MEMBER = "tenant-member"
    TENANT_VIEWER = "tenant-viewer"

    @property
    def is_operator(self) -> bool:
        return self in OPERATOR_ROLES


OPERATOR_ROLES = frozenset({Role.OPERATOR_ADMIN, Role.OPERATOR, Role.AUDITOR, Role.NODE_AGENT})
TENANT_ROLES = frozenset({Role.TENANT_ADMIN, Role.TENANT_MEMBER, Role.TENANT_VIEWER})


class Action(StrEnum):
    FLEET_READ = "fleet.read"
    FLEET_MANAGE = "fleet.manage"  # drain / down / up nodes
    ORG_CREATE = "org.create"
    ORG_READ = "org.read"
    PROJECT_CREATE = "project.create"
    PROJECT_READ = "project.read"
    USER_CREATE = "user.create"
    USER_READ = "user.read"
    KEY_CREATE_OWN = "key.create-own"
    KEY_MANAGE = "key.manage"  # keys of other users in scope
    KEY_READ = "key.read"
    JOB_SUBMIT = "job.submit"
    JOB_READ = "job.read"  # metadata: state, placement, events
    JOB_LOGS = "job.logs"  # tenant data: logs (operators need tenant approval, never by role)
    JOB_CANCEL = "job.cancel"  # one's own jobs
    JOB_CANCEL_ANY = "job.cancel-any"  # other members' jobs of one's org
    JOB_OPERATE = "job.operate"  # operators: suspend, resume or cancel a tenant's job (never read its data)
    ORG_SUSPEND = "org.suspend"  # operators: suspend or resume an organization (its keys stop working)
    CONTRACT_READ = "contract.read"
    CONTRACT_MANAGE = "contract.manage"
    AGENT = "agent"  # register a node, heartbeat, report runs


_OPERATOR_GRANTS: dict[Role, frozenset[Action]] = {
    Role.OPERATOR_ADMIN: frozenset(
        {
            Action.FLEET_READ,
            Action.FLEET_MANAGE,
            Action.ORG_CREATE,
            Action.ORG_READ,
            Action.PROJECT_READ,
            Action.USER_CREATE,
            Action.USER_READ,
            Action.KEY_CREATE_OWN,
            Action.KEY_MANAGE,
            Action.KEY_READ,
            Action.JOB_READ,
            Action.JOB_OPERATE,
            Action.ORG_SUSPEND,
            Action.CONTRACT_READ,
            Action.CONTRACT_MANAGE,
        }
    ),
    Role.OPERATOR: frozenset(
        {
            Action.FLEET_READ,
            Action.FLEET_MANAGE,
            Action.ORG_READ,
            Action.PROJECT_READ,
            Action.KEY_CREATE_OWN,
            Action.JOB_READ,
            Action.JOB_OPERATE,
            Action.CONTRACT_READ,
        }
    ),
    Role.AUDITOR: frozenset(
        {
            Action.FLEET_READ,
            Action.ORG_READ,
            Action.PROJECT_READ,
            Action.USER_READ,
            Action.KEY_READ,
            Action.JOB_READ,
            Action.CONTRACT_READ,
        }
    ),
    Role.NODE_AGENT: frozenset({Action.AGENT}),
}
_TENANT_GRANTS: dict[Role, frozenset[Action]] = {
    Role.TENANT_ADMIN: frozenset(
        {
            Action.FLEET_READ,
            Action.ORG_READ,
            Action.PROJECT_CREATE,
            Action.PROJECT_READ,
            Action.USER_CREATE,
            Action.USER_READ,
            Action.KEY_CREATE_OWN,
            Action.KEY_MANAGE,
            Action.KEY_READ,
            Action.JOB_SUBMIT,
            Action.JOB_READ,
            Action.JOB_LOGS,
            Action.JOB_CANCEL,
            Action.JOB_CANCEL_ANY,
            Action.CONTRACT_READ,
        }
    ),
    Role.TENANT_MEMBER: frozenset(
        {
            Action.FLEET_READ,
            Action.ORG_READ,
            Action.PROJECT_READ,
            Action.USER_READ,
            Action.KEY_CREATE_OWN,
            Action.JOB_SUBMIT,
            Action.JOB_READ,
            Action.JOB_LOGS,
            Action.JOB_CANCEL,
            Action.CONTRACT_READ,
        }
    ),
    Role.TENANT_VIEWER: frozenset(
        {
            Action.FLEET_READ,
            Action.ORG_READ,
            Action.PROJECT_READ,
            Action.JOB_READ,
            Action.JOB_LOGS,
            Action.CONTRACT_READ,
        }
    ),
}
# Actions only a tenant identity may take on its own org (operator keys are refused).
TENANT_ONLY = frozenset(
    {Action.PROJECT_CREATE, Action.JOB_SUBMIT, Action.JOB_CANCEL, Action.JOB_CANCEL_ANY, Action.JOB_LOGS}
)
# Actions only an operator identity may take.
OPERATOR_ONLY = frozenset(
    {Action.ORG_CREATE, Action.FLEET_MANAGE, Action.CONTRACT_MANAGE, Action.AGENT, Action.JOB_OPERATE,
     Action.ORG_SUSPEND}
)  # fmt: skip

NAME_RULE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
EMAIL_RULE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the user behind an API key, with its role and org."""

    user_id: str
    key_id: str
    role: Role
    org_id: str | None

    @property
    def is_operator(self) -> bool:
        return self.role.is_operator


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    display_name: str
    country: str
    created_at: datetime
    suspended_at: datetime | None = None  # an operator suspended it: its keys stop authenticating
    suspended_reason: str | None = None

    @property
    def suspended(self) -> bool:
        return self.suspended_at is not None


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    org_id: str
    name: str
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class User:
    id: str
    org_id: str | None
    email: str
    role: Role
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    user_id: str
    name: str
    lookup: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def grants(role: Role) -> frozenset[Action]:
    return (_OPERATOR_GRANTS if role.is_operator else _TENANT_GRANTS)[role]


def can(principal: Principal, action: Action) -> bool:
    """May this principal take `action` at all (scope is checked by `in_scope`)?"""
    if action in TENANT_ONLY and principal.is_operator:
        return False
    if action in OPERATOR_ONLY and not principal.is_operator:
        return False
    return action in grants(principal.role)


def in_scope(principal: Principal, org_id: str | None) -> bool:
    """Operators see every org; a tenant identity sees only its own."""
    return principal.is_operator or (org_id is not None and principal.org_id == org_id)


def may_assign_role(principal: Principal, role: Role, org_id: str | None) -> bool:
    """Who may create a user with `role`: never above one's own side or outside one's org."""
    if principal.role is Role.OPERATOR_ADMIN:
        return (org_id is None) == role.is_operator
    if principal.role is Role.TENANT_ADMIN:
        return not role.is_operator and org_id == principal.org_id
    return False


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """An operator's request to read a tenant's data (lockbox), and what became of it."""

    id: str
    org_id: str
    scope_kind: str
    scope_id: str
    justification: str
    duration_s: int
    requested_by: str
    requested_at: datetime
    status: str
    break_glass: bool
    decided_by: str | None = None
    decided_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_by: str | None = None
    revoked_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """Something a tenant must know at once (e.g. a break-glass access to its data)."""

    id: int
    org_id: str
    at: datetime
    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class SsoLogin:
    """Who an identity provider says signed in: its issuer and stable subject, and the verified email."""

    provider: str
    issuer: str
    subject: str
    email: str
