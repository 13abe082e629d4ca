"""Tenant secrets: envelope-encrypted at rest, injected into jobs at launch, never shown again.

Values leave this service only through `resolve`, which the scheduling loop calls when it
builds a job's launch environment. Crypto-erasure (`destroy_key`) drops the tenant's wrapped
data key: every secret of the tenant becomes unrecoverable, and a signed certificate says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.crypto.envelope import DecryptionFailed, KeyWrapper, new_dek, open_sealed, seal
from brique.crypto.signing import SigningKey
from brique.domain.secrets import Secret
from brique.domain.tenancy import AccessRequest, Principal, Role
from brique.errors import (
    Conflict,
    Duplicate,
    FourEyesRequired,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ReadOnly,
    TenantOnly,
)
from brique.ids import IdFactory, new_id
from brique.services.audit import AuditLog, Entry
from brique.store.db import Database
from brique.store.repos import lockbox as lockbox_repo
from brique.store.repos import secrets as secrets_repo
from brique.store.repos import tenancy as tenancy_repo
from brique.store.repos import wrapped_keys

ERASURE = "erasure"  # an access request row of this scope is a pending four-eyes erasure
ERASURE_WINDOW_S = 3600
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
MAX_VALUE = 64 * 1024


class SecretsService:
    def __init__(self, db: Database, clock: Clock, kek: KeyWrapper, signer: SigningKey, audit: AuditLog,
                 ids: IdFactory = new_id) -> None:  # fmt: skip
        self.ids = ids
        self.db = db
        self.clock = clock
        self.kek = kek
        self.signer = signer
        self.audit = audit

    def platform_key(self, name: str) -> bytes:
        """A 256-bit key every replica shares (created once, stored wrapped by the KEK, so the
        database alone never yields it): e.g. the key that seals console session cookies."""
        aad = f"platform:{name}".encode()
        with self.db.transaction() as s:
            wrapped = wrapped_keys.get(s, name)
        if wrapped is not None:
            return self.kek.unwrap(wrapped, aad)
        key = new_dek()
        try:
            with self.db.transaction(duplicate="taken", field="name") as s:
                wrapped_keys.add(s, name, self.kek.wrap(key, aad), self.clock.now())
            return key
        except Duplicate:  # another replica created it first: use theirs
            return self.platform_key(name)

    def put(self, who: Principal, org_ref: str, name: str, value: str) -> None:
        self._tenant_admin(who)
        if not NAME.match(name):
            raise InvalidInput("must be an environment variable name (letters, digits, '_')", field="name")
        if not value or len(value.encode()) > MAX_VALUE:
            raise InvalidInput(f"must be 1 to {MAX_VALUE} bytes", field="value")
        now = self.clock.now()
        with self.db.transaction() as s:
            org_id = self._org(s, who, org_ref)
            dek = self._dek(s, org_id, create=True)
            sealed = seal(dek, value.encode(), f"{org_id}|{name}".encode())
            secrets_repo.put(s, org_id, name, sealed, who.user_id, now)
            self.audit.append(s, Entry(who.user_id, org_id, "secret.put", name))

    def names(self, who: Principal, org_ref: str) -> list[Secret]:
        if who.is_operator:
            raise TenantOnly("operators never see tenant secrets")
        with self.db.transaction() as s:
            org_id = self._org(s, who, org_ref)
            return secrets_repo.list_secrets(s, org_id)

    def delete(self, who: Principal, org_ref: str, name: str) -> None:
        self._tenant_admin(who)
        with self.db.transaction() as s:
            org_id = self._org(s, who, org_ref)
            gone = secrets_repo.delete_one(s, org_id, name)
            if not gone:
                raise NotFound(f"secret '{name}' not found", field="name")
            self.audit.append(s, Entry(who.user_id, org_id, "secret.delete", name))

    @staticmethod
    def missing(s: Session, org_id: str, names: Sequence[str]) -> list[str]:
        """Which of `names` the org has no secret for (checked in the submission's transaction)."""
        if not names:
            return []
        have = secrets_repo.all_names(s, org_id)
        return [n for n in names if n not in have]

    def resolve(self, org_id: str, names: Sequence[str]) -> dict[str, str]:
        """Decrypt for injection at launch. A destroyed key yields nothing (crypto-erased)."""
        if not names:
            return {}
        with self.db.transaction() as s:
            try:
                dek = self._dek(s, org_id, create=False)
            except (NotFound, Conflict):  # no key yet, or crypto-erased: nothing to inject
                return {}
            out = {}
            for name, ciphertext in secrets_repo.sealed(s, org_id, names):
                try:
                    out[name] = open_sealed(dek, ciphertext, f"{org_id}|{name}".encode()).decode()
                except DecryptionFailed:
                    continue
            return out

    def destroy_key(self, who: Principal, org_ref: str, confirm: str | None = None) -> dict[str, Any]:
        """Crypto-erasure at contract end, on the tenant-admin's request or by two distinct operators
        (an operator-admin asks, a second operator confirms with the request id within an hour).
        Returns the signed certificate, which says who authorized it, or the pending request."""
        if who.role is Role.TENANT_ADMIN:
            return self._destroy(who, org_ref, {"kind": "tenant-admin", "by": [who.user_id]})
        if who.role is Role.AUDITOR:
            raise ReadOnly("auditors are read-only: they cannot destroy a tenant key")
        if who.role not in (Role.OPERATOR_ADMIN, Role.OPERATOR):
            raise PermissionDenied("only a tenant-admin, or two operators, destroy a tenant key")
        if confirm is None:
            return self._ask_erasure(who, org_ref)
        with self.db.transaction() as s:
            org_id = self._org(s, who, org_ref)
            row = lockbox_repo.get(s, confirm)
            if row is None or row.scope_kind != ERASURE or row.org_id != org_id or row.status != "pending":
                raise NotFound(
                    f"no pending erasure request '{confirm}' for this organization", field="confirm"
                )
            if row.requested_by == who.user_id:
                raise FourEyesRequired("crypto-erasure needs a second, distinct operator")
            if row.requested_at + timedelta(seconds=row.duration_s) <= self.clock.now():
                raise Conflict(f"erasure request {confirm} expired; ask again", field="confirm")
            row = replace(row, status="approved", decided_by=who.user_id, decided_at=self.clock.now())
            lockbox_repo.save(s, row)
            requested_by = row.requested_by
        return self._destroy(who, org_ref, {"kind": "four-eyes", "by": [requested_by, who.user_id],
                                            "request": confirm})  # fmt: skip

    def _ask_erasure(self, who: Principal, org_ref: str) -> dict[str, Any]:
        if who.role is not Role.OPERATOR_ADMIN:
            raise PermissionDenied("an operator-admin asks for a crypto-erasure; a second operator confirms")
        now = self.clock.now()
        with self.db.transaction() as s:
            org_id = self._org(s, who, org_ref)
            row = AccessRequest(id=self.ids("acc"), org_id=org_id, scope_kind=ERASURE, scope_id=org_id,
                                justification="crypto-erasure of the tenant key", duration_s=ERASURE_WINDOW_S,
                                requested_by=who.user_id, requested_at=now, status="pending",
                                break_glass=False)  # fmt: skip
            lockbox_repo.add(s, row)
            self.audit.append(s, Entry(who.user_id, org_id, "tenant_key.erasure_requested", row.id))
        return {"status": "pending", "request_id": row.id, "org_id": org_id,
                "needs": "a second, distinct operator confirms within an hour (confirm=<request_id>)"}  # fmt: skip

    def _destroy(self, who: Principal, org_ref: str, authorized: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        with self.db.transaction() as s:
            org_id = self._org(s, who, org_ref)
            key = secrets_repo.tenant_key(s, org_id)
            if key is not None and key.destroyed_at is not None:
                raise Conflict("this organization's key was already destroyed", field="org")
            count = secrets_repo.delete_all(s, org_id)
            cert = self.signer.envelope({
                "type": "brique-crypto-erasure-certificate/1", "org_id": org_id,
                "destroyed_at": now.isoformat(timespec="seconds"), "destroyed_by": who.user_id,
                "authorized": authorized,
                "secrets_erased": count, "statement": "the tenant data key was destroyed; ciphertexts encrypted "
                "under it cannot be decrypted by anyone",
            })  # fmt: skip
            secrets_repo.destroy_tenant_key(s, org_id, now, cert)
            self.audit.append(s, Entry(who.user_id, org_id, "tenant_key.destroyed", org_id,
                                       details={"secrets_erased": count, "authorized": authorized["kind"]}))  # fmt: skip
            return cert

    # -- helpers --------------------------------------------------------------------------------

    def _dek(self, s: Session, org_id: str, create: bool) -> bytes:
        key = secrets_repo.tenant_key(s, org_id)
        if key is not None and key.destroyed_at is not None:
            raise Conflict("this organization's key was destroyed (crypto-erased); secrets cannot be stored")
        if key is None:
            if not create:
                raise NotFound("no tenant key")
            dek = new_dek()
            secrets_repo.add_tenant_key(s, org_id, self.kek.wrap(dek, org_id.encode()), self.clock.now())
            return dek
        assert key.wrapped_dek is not None
        return self.kek.unwrap(key.wrapped_dek, org_id.encode())

    @staticmethod
    def _tenant_admin(who: Principal) -> None:
        if who.is_operator:
            raise TenantOnly("operators never handle tenant secrets")
        if who.role is not Role.TENANT_ADMIN:
            raise PermissionDenied("only a tenant-admin manages secrets")

    @staticmethod
    def _org(s: Session, who: Principal, ref: str) -> str:
        org = tenancy_repo.find_org(s, ref)
        if org is None or not (who.is_operator or who.org_id == org.id):
            raise NotFound(f"organization '{ref}' not found", field="org")
        return org.id
