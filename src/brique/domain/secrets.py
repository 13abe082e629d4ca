"""Tenant secrets as the platform sees them: names and wrapped keys, never values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Secret:
    """A tenant secret as listed: its name and its last change, never its value."""

    name: str
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TenantKey:
    """A tenant's data key, wrapped by the key-encryption key; no key once destroyed (crypto-erased)."""

    org_id: str
    wrapped_dek: bytes | None
    destroyed_at: datetime | None
