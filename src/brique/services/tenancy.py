"""Tenancy use cases: organizations, projects, users, API keys, authentication, bootstrap."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
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
    User,
    grants,
    may_assign_role,
)
from brique.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OperatorOnly,
    PermissionDenied,
    TenantOnly,
    Unauthenticated,
)
from brique.ids import IdFactory, new_id
from brique.services.authz import require, require_scope
from brique.store.db import Database
from brique.store.repos import tenancy as repo

BOOTSTRAP_EMAIL = "admin@operator.local"
TOUCH_EVERY = timedelta(minutes=1)
AUTH_CACHE_S = 0.0  # how long a key checked valid is trusted without reading it again (0: never)
MAX_KNOWN_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class NewKey:
    key: ApiKey
    token: str  # the only time the secret is available


@dataclass(frozen=True, slots=True)
class NewOrg:
    org: Organization
    admin: User | None
    admin_key: NewKey | None


@dataclass(frozen=True, slots=True)
class _Known:
    """A key found valid at `checked` (monotonic seconds): its owner, and the stored digest."""

    key: ApiKey
    user: User
    secret_hash: str
    checked: float


class TenancyService:
    def __init__(
        self, db: Database, clock: Clock, ids: IdFactory = new_id, auth_cache_s: float = AUTH_CACHE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.db = db
        self.clock = clock
        self.ids = ids
        # Keys seen valid, by lookup: a request skips the database while its entry is fresh. A
        # revocation here clears them at once; one made by another replica counts within `auth_cache_s`.
        self.auth_cache_s = auth_cache_s
        self.monotonic = monotonic
        self._known: dict[str, _Known] = {}

    # -- authentication -------------------------------------------------------------------------

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
        parsed = apikeys.parse(token)
        if parsed is None:
            raise Unauthenticated("malformed API key")
        lookup, secret = parsed
        now = self.clock.now()
        known = self._known.get(lookup)
        if (known is None or self.monotonic() - known.checked >= self.auth_cache_s
                or not apikeys.matches(secret, known.secret_hash) or not known.key.usable_at(now)):  # fmt: skip
            known = self._check(lookup, secret)
        return Principal(
            user_id=known.user.id, key_id=known.key.id, role=known.user.role, org_id=known.user.org_id
        )

    def _check(self, lookup: str, secret: str) -> _Known:
        """The key, read and checked in the database (and remembered when valid)."""
        self._known.pop(lookup, None)
        now = self.clock.now()
        with self.db.transaction() as s:
            found = repo.key_by_lookup(s, lookup)
            if found is None or not apikeys.matches(secret, found[1]):
                raise Unauthenticated("invalid API key")
            key, digest, user = found
            if not key.usable_at(now):
                raise Unauthenticated("API key revoked or expired")
            if user.org_id is not None and repo.find_org(s, user.org_id) is None:
                raise Unauthenticated("API key of an organization that no longer exists")
            if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
                repo.touch_key(s, key.id, now)
                key = dataclasses.replace(key, last_used_at=now)
        if len(self._known) >= MAX_KNOWN_KEYS:
            self._known.clear()  # bounded memory whatever the number of keys in use
        known = self._known[lookup] = _Known(key, user, digest, self.monotonic())
        return known

    def forget_keys(self) -> None:
        """Drop every remembered key (after a revocation, or any change to who may use one)."""
        self._known.clear()

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

    def single_sign_on(
        self, org_ref: str, email: str, default_role: Role, ttl: timedelta, via: str
    ) -> NewKey:
        """A user signed in by the org's identity provider: found by email in that org, or created with
        the org's default role; returns a key that expires after `ttl` (the console session)."""
        _check_email(email, "email")
        if default_role not in TENANT_ROLES:
            raise InvalidInput(f"'{default_role}' is not a tenant role", field="default_role")
        with self._unique(f"a user with email '{email}' already exists", "email") as s:
            org = repo.find_org(s, org_ref)
            if org is None:
                raise NotFound(f"organization '{org_ref}' not found", field="org")
            user = next((u for u in repo.list_users(s, org.id) if u.email.lower() == email.lower()), None)
            if user is None:
                if repo.email_taken(s, email):  # someone of another org or an operator: never merged
                    raise PermissionDenied(f"'{email}' belongs to another organization", field="email")
                user = self._add_user(s, org.id, email, default_role)
            return self._issue_key(s, user, f"console sign-in via {via}"[:100], self.clock.now() + ttl)

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
        self.forget_keys()  # after the commit: a request racing it re-reads the revoked key
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


def _check_name(name: str, field: str) -> None:
    if not NAME_RULE.match(name):
        raise InvalidInput("must be 2-63 lowercase letters, digits or '-', starting with a letter or digit",
                           field=field)  # fmt: skip


def _check_email(email: str, field: str) -> None:
    if len(email) > 254 or not EMAIL_RULE.match(email):
        raise InvalidInput(f"'{email}' is not a valid email address", field=field)
