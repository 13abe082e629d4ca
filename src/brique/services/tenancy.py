"""Tenancy use cases: organizations, projects, users, API keys, authentication, bootstrap."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.crypto import apikeys
from brique.domain.geo import is_country
from brique.domain.tenancy import (
    EMAIL_RULE,
    NAME_RULE,
    TENANT_ROLES,
    Action,
    ApiKey,
    Organization,
    Principal,
    Project,
    Role,
    SsoLogin,
    User,
    grants,
    may_assign_role,
)
from brique.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OperatorOnly,
    OrgSuspended,
    PermissionDenied,
    TenantOnly,
    Unauthenticated,
)
from brique.ids import IdFactory, new_id
from brique.services.audit import AuditLog, Entry
from brique.services.authz import require, require_scope
from brique.services.key_cache import KeyCache, token_digest
from brique.store.db import Database
from brique.store.repos import tenancy as repo

BOOTSTRAP_EMAIL = "admin@operator.local"
TOUCH_EVERY = timedelta(minutes=1)
MAX_REMEMBERED_KEYS = 100_000  # lookups kept for early refusals (about 10 MB at most)


@dataclass(frozen=True, slots=True)
class NewKey:
    key: ApiKey
    token: str  # the only time the secret is available


@dataclass(frozen=True, slots=True)
class NewOrg:
    org: Organization
    admin: User | None
    admin_key: NewKey | None


class TenancyService:
    def __init__(self, db: Database, clock: Clock, ids: IdFactory = new_id, audit: AuditLog | None = None,
                 keys: KeyCache | None = None) -> None:  # fmt: skip
        self.db = db
        self.clock = clock
        self.ids = ids
        self.audit = audit
        self.keys = keys or KeyCache()  # keys verified in the last few seconds (no database read per request)
        # API key lookup -> org id, learnt at each successful tenant authentication: a key never changes
        # org, so the rate limiter can refuse a flooding org's key before any database work.
        self._org_of_lookup: dict[str, str] = {}

    # -- authentication -------------------------------------------------------------------------

    def cached(self, token: str | None) -> Principal | None:
        """The principal of a token this replica verified a moment ago (memory only), else None:
        then call `authenticate`."""
        return self.keys.get(token_digest(token), self.clock.now()) if token else None

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
        digest = token_digest(token)
        now = self.clock.now()
        hit = self.keys.get(digest, now)
        if hit is not None:
            return hit
        parsed = apikeys.parse(token)
        if parsed is None:
            raise Unauthenticated("malformed API key")
        lookup, secret = parsed
        epoch = self.keys.epoch
        with self.db.transaction() as s:
            found = repo.key_by_lookup(s, lookup)
            if found is None or not apikeys.matches(secret, found[1]):
                raise Unauthenticated("invalid API key")
            key, _, user = found
            if not key.usable_at(now):
                raise Unauthenticated("API key revoked or expired")
            if user.org_id is not None:
                _check_org_active(repo.find_org(s, user.org_id))
            if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
                repo.touch_key(s, key.id, now)
        if user.org_id is not None and len(self._org_of_lookup) < MAX_REMEMBERED_KEYS:
            self._org_of_lookup[lookup] = user.org_id
        who = Principal(user_id=user.id, key_id=key.id, role=user.role, org_id=user.org_id)
        self.keys.put(digest, who, key.expires_at, epoch)
        return who

    def org_of_token(self, token: str | None) -> str | None:
        """The org of a tenant key seen authenticating before, from memory alone (None: unknown).
        Not an authentication: use it only to refuse early, never to allow."""
        parsed = apikeys.parse(token) if token else None
        return self._org_of_lookup.get(parsed[0]) if parsed else None

    def bootstrap(self, key_file: Path) -> str | None:
        """Create the operator admin on first start; return its key (also written 0600), else None."""
        with self.db.transaction() as s:
            if repo.count_users_with_role(s, Role.OPERATOR_ADMIN) > 0:
                return None
            user = User(self.ids("usr"), None, BOOTSTRAP_EMAIL, Role.OPERATOR_ADMIN, self.clock.now())
            repo.add_user(s, user)
            new = self._issue_key(s, user, "bootstrap", None)
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new.token + "\n")
        os.chmod(key_file, 0o600)
        return new.token

    # -- organizations --------------------------------------------------------------------------

    def create_org(
        self, who: Principal, name: str, display_name: str | None, country: str, admin_email: str | None
    ) -> NewOrg:
        require(who, Action.ORG_CREATE)
        _check_name(name, "name")
        if not is_country(country):
            raise InvalidInput(f"'{country}' is not an ISO 3166-1 alpha-2 country code", field="country")
        if admin_email is not None:
            _check_email(admin_email, "admin_email")
        org = Organization(self.ids("org"), name, display_name or name, country, self.clock.now())
        with self._unique(f"organization '{name}' already exists", "name") as s:
            if repo.org_name_taken(s, name):
                raise Conflict(f"organization '{name}' already exists", field="name")
            repo.add_org(s, org)
            if admin_email is None:
                return NewOrg(org, None, None)
            admin = self._add_user(s, org.id, admin_email, Role.TENANT_ADMIN)
            return NewOrg(org, admin, self._issue_key(s, admin, "initial admin key", None))

    def list_orgs(self, who: Principal) -> list[Organization]:
        require(who, Action.ORG_READ)
        with self.db.transaction() as s:
            return repo.list_orgs(s, None if who.is_operator else who.org_id)

    def get_org(self, who: Principal, ref: str) -> Organization:
        require(who, Action.ORG_READ)
        with self.db.transaction() as s:
            return self._org(s, who, ref)

    def suspend_org(self, who: Principal, ref: str, reason: str) -> Organization:
        """Suspend an organization: every key of its users is refused (403 org_suspended) at once.
        Its jobs are left as they are (suspend them one by one with `brique job suspend`)."""
        return self._set_suspension(who, ref, _reason(reason))

    def resume_org(self, who: Principal, ref: str, reason: str | None = None) -> Organization:
        return self._set_suspension(who, ref, None, (reason or "").strip() or None)

    def _set_suspension(
        self, who: Principal, ref: str, reason: str | None, resume_reason: str | None = None
    ) -> Organization:
        require(who, Action.ORG_SUSPEND)
        now = self.clock.now()
        with self.db.transaction() as s:
            org = self._org(s, who, ref)
            if (reason is not None) == org.suspended:
                state = "already suspended" if org.suspended else "not suspended"
                raise Conflict(f"organization '{org.name}' is {state}", field="org")
            repo.set_org_suspension(s, org.id, now if reason else None, reason)
            if self.audit is not None:
                action = "org.suspend" if reason else "org.resume"
                details = {"reason": reason or resume_reason or ""}
                self.audit.append(s, Entry(who.user_id, org.id, action, org.id, "ok", details=details))
            changed = repo.find_org(s, org.id)
        self.keys.forget(lambda p: p.org_id == org.id)  # after commit: the next request reads it anew
        return changed  # type: ignore[return-value]

    # -- projects -------------------------------------------------------------------------------

    def create_project(self, who: Principal, org_ref: str, name: str, description: str) -> Project:
        _check_name(name, "name")
        with self._unique(f"project '{name}' already exists in this organization", "name") as s:
            org = self._org(s, who, org_ref)
            require(who, Action.PROJECT_CREATE)
            if repo.find_project(s, org.id, name) is not None:
                raise Conflict(f"project '{name}' already exists in organization '{org.name}'", field="name")
            project = Project(self.ids("prj"), org.id, name, description, self.clock.now())
            repo.add_project(s, project)
            return project

    def list_projects(self, who: Principal, org_ref: str) -> list[Project]:
        with self.db.transaction() as s:
            org = self._org(s, who, org_ref)
            require(who, Action.PROJECT_READ)
            return repo.list_projects(s, org.id)

    def get_project(self, who: Principal, org_ref: str, ref: str) -> Project:
        with self.db.transaction() as s:
            org = self._org(s, who, org_ref)
            require(who, Action.PROJECT_READ)
            project = repo.find_project(s, org.id, ref)
            if project is None:
                raise NotFound(f"project '{ref}' not found", field="project")
            return project

    # -- users ----------------------------------------------------------------------------------

    def create_user(self, who: Principal, org_ref: str | None, email: str, role: Role) -> User:
        _check_email(email, "email")
        with self._unique(f"a user with email '{email}' already exists", "email") as s:
            org_id = self._org(s, who, org_ref).id if org_ref else None
            require(who, Action.USER_CREATE)
            if not may_assign_role(who, role, org_id):
                side = "an organization" if not role.is_operator else "no organization"
                raise PermissionDenied(f"role '{who.role}' may not create a '{role}' user here "
                                       f"(a '{role}' user belongs to {side})", field="role")  # fmt: skip
            return self._add_user(s, org_id, email, role)

    def list_users(self, who: Principal, org_ref: str) -> list[User]:
        with self.db.transaction() as s:
            org = self._org(s, who, org_ref)
            require(who, Action.USER_READ)
            return repo.list_users(s, org.id)

    def list_operator_users(self, who: Principal) -> list[User]:
        require(who, Action.USER_READ)
        if not who.is_operator:
            raise OperatorOnly("only operator identities may list operator users")
        with self.db.transaction() as s:
            return repo.list_users(s, None)

    def single_sign_on(self, org_ref: str, login: SsoLogin, default_role: Role, ttl: timedelta) -> NewKey:
        """A user signed in by the org's identity provider. Found by the provider's stable subject once
        linked (an email changed at the provider keeps the same Brique user); at the first sign-in,
        found by email in that org, or created with the org's default role, then linked. Returns a key
        that expires after `ttl` (the console session)."""
        _check_email(login.email, "email")
        if default_role not in TENANT_ROLES:
            raise InvalidInput(f"'{default_role}' is not a tenant role", field="default_role")
        with self._unique(f"a user with email '{login.email}' already exists", "email") as s:
            org = repo.find_org(s, org_ref)
            if org is None:
                raise NotFound(f"organization '{org_ref}' not found", field="org")
            _check_org_active(org)
            user = repo.linked_user(s, login.issuer, login.subject) or self._first_sign_in(s, org.id, login,
                                                                                        default_role)  # fmt: skip
            if user.org_id != org.id:
                raise PermissionDenied(f"'{login.email}' belongs to another organization", field="email")
            via = f"console sign-in via {login.provider} (sub {login.subject})"
            return self._issue_key(s, user, via[:100], self.clock.now() + ttl)

    def _first_sign_in(self, s: Session, org_id: str, login: SsoLogin, default_role: Role) -> User:
        user = next((u for u in repo.list_users(s, org_id) if u.email.lower() == login.email.lower()), None)
        if user is None:
            if repo.email_taken(s, login.email):  # someone of another org or an operator: never merged
                raise PermissionDenied(f"'{login.email}' belongs to another organization", field="email")
            user = self._add_user(s, org_id, login.email, default_role)
        elif repo.user_has_link(s, user.id, login.issuer):  # the address moved to another subject: refuse
            raise PermissionDenied(f"'{login.email}' is linked to another identity at this provider; "
                                   "an org admin must unlink it first", field="email")  # fmt: skip
        repo.link_user(s, login.issuer, login.subject, user.id, self.clock.now())
        return user

    # -- API keys -------------------------------------------------------------------------------

    def create_key(self, who: Principal, user_id: str | None, name: str, expires_days: int | None) -> NewKey:
        if not name.strip():
            raise InvalidInput("must be a non-empty string", field="name")
        with self.db.transaction() as s:
            target = self._key_owner(s, who, user_id)
            expires = self.clock.now() + timedelta(days=expires_days) if expires_days else None
            return self._issue_key(s, target, name.strip(), expires)

    def list_keys(self, who: Principal, org_ref: str | None) -> list[ApiKey]:
        with self.db.transaction() as s:
            if not (who.is_operator or Action.KEY_MANAGE in grants(who.role)):
                return repo.list_keys(s, org_id=None, user_id=who.user_id, operators=False)
            require(who, Action.KEY_READ)
            if org_ref:
                org = self._org(s, who, org_ref)
                return repo.list_keys(s, org_id=org.id, user_id=None, operators=False)
            if who.is_operator:
                return repo.list_keys(s, org_id=None, user_id=None, operators=True)
            return repo.list_keys(s, org_id=who.org_id, user_id=None, operators=False)

    def revoke_key(self, who: Principal, key_id: str) -> ApiKey:
        with self.db.transaction() as s:
            found = repo.get_key(s, key_id)
            if found is None:
                raise NotFound(f"API key '{key_id}' not found")
            key, owner = found
            require_scope(who, owner.org_id, f"API key '{key_id}'")
            if owner.id != who.user_id:
                require(who, Action.KEY_MANAGE)
            repo.revoke_key(s, key.id, self.clock.now())
            revoked = repo.get_key(s, key_id)[0]  # type: ignore[index]
        self.keys.forget(lambda p: p.key_id == key.id)  # after commit: the next request reads it anew
        return revoked

    def org_id_of(self, ref: str) -> str | None:
        """The id of an org named by id or name (for the audit log), without authorization."""
        with self.db.transaction() as s:
            org = repo.find_org(s, ref)
        return org.id if org else None

    # -- helpers --------------------------------------------------------------------------------

    def _org(self, s: Session, who: Principal, ref: str | None) -> Organization:
        org = repo.find_org(s, ref) if ref else None
        if org is None or not (who.is_operator or who.org_id == org.id):
            raise NotFound(f"organization '{ref}' not found", field="org")
        return org

    def _key_owner(self, s: Session, who: Principal, user_id: str | None) -> User:
        if user_id is None or user_id == who.user_id:
            require(who, Action.KEY_CREATE_OWN)
            me = repo.get_user(s, who.user_id)
            assert me is not None
            return me
        target = repo.get_user(s, user_id)
        if target is None or not (who.is_operator or target.org_id == who.org_id):
            raise NotFound(f"user '{user_id}' not found", field="user_id")
        require(who, Action.KEY_MANAGE)
        if who.is_operator and target.org_id is not None:
            # a key for a tenant identity would bypass the tenant-approved lockbox
            raise TenantOnly("operators cannot create keys for tenant identities; a tenant's first key "
                                   "comes with `org create --admin-email`", field="user_id")  # fmt: skip
        return target

    def _add_user(self, s: Session, org_id: str | None, email: str, role: Role) -> User:
        if repo.email_taken(s, email):
            raise Conflict(f"a user with email '{email}' already exists", field="email")
        user = User(self.ids("usr"), org_id, email, role, self.clock.now())
        repo.add_user(s, user)
        return user

    def _issue_key(self, s: Session, user: User, name: str, expires: object) -> NewKey:
        issued = apikeys.issue()
        key = ApiKey(self.ids("key"), user.id, name, issued.lookup, self.clock.now(), expires, None, None)  # type: ignore[arg-type]
        repo.add_key(s, key, issued.secret_hash)
        return NewKey(key, issued.token)

    def _unique(self, message: str, field: str) -> AbstractContextManager[Session]:
        """A transaction whose unique-constraint race (two concurrent creates) is a `Duplicate` (409)."""
        return self.db.transaction(duplicate=message, field=field)


def _check_org_active(org: Organization | None) -> None:
    """A deleted or suspended organization's keys authenticate nowhere."""
    if org is None:
        raise Unauthenticated("API key of an organization that no longer exists")
    if org.suspended:
        raise OrgSuspended(f"organization '{org.name}' is suspended by the operator: {org.suspended_reason}; "
                           "its API keys are refused until it is resumed")  # fmt: skip


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise InvalidInput("must be a non-empty reason of at most 500 characters", field="reason")
    return reason


def _check_name(name: str, field: str) -> None:
    if not NAME_RULE.match(name):
        raise InvalidInput("must be 2-63 lowercase letters, digits or '-', starting with a letter or digit",
                           field=field)  # fmt: skip


def _check_email(email: str, field: str) -> None:
    if len(email) > 254 or not EMAIL_RULE.match(email):
        raise InvalidInput(f"'{email}' is not a valid email address", field=field)
