"""The platform's signing keys over time: the current one signs, retired ones still verify.

`PlatformKeys` is the `SigningKey` every service signs with (lockbox, evidence, erasure
certificates, audit tree heads). Its registry (`$BRIQUE_HOME/platform-keys.json`, public halves
only, outside the database) lists every key the platform ever signed with and its validity window;
`GET /v1/platform/keys` publishes it and `brique trust fetch` pins it. Rotation makes a new key
current and closes the old one's window: documents it signed stay verifiable with the pinned key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from brique.crypto.signing import ALGORITHM, SigningKey, fingerprint


@dataclass(frozen=True, slots=True)
class PublishedKey:
    key_id: str
    public_key: str
    fingerprint: str
    not_before: str
    not_after: str | None
    status: str  # current | retired
    algorithm: str = ALGORITHM


class PlatformKeys(SigningKey):
    def __init__(self, current: SigningKey, registry: Path, now: datetime,
                 make_next: Callable[[SigningKey], SigningKey] | None = None) -> None:  # fmt: skip
        self._current = current
        self._registry = registry
        self._make_next = make_next
        self._keys = _load(registry)
        self._adopt(current, now)

    @property  # type: ignore[override]
    def key_id(self) -> str:
        return self._current.key_id

    @property  # type: ignore[override]
    def public_key(self) -> str:
        return self._current.public_key

    def sign_bytes(self, data: bytes) -> bytes:
        return self._current.sign_bytes(data)

    def published(self) -> list[PublishedKey]:
        return list(self._keys)

    def public_key_for(self, key_id: str) -> str | None:
        return next((k.public_key for k in self._keys if k.key_id == key_id), None)

    def rotate(self, now: datetime) -> PublishedKey:
        """A new current key; the old one is retired (its documents stay verifiable)."""
        if self._make_next is None:
            raise RuntimeError("this key backend cannot rotate from the API; rotate in the HSM and restart")
        self._current = self._make_next(self._current)
        self._adopt(self._current, now)
        return self._keys[-1]

    def _adopt(self, key: SigningKey, now: datetime) -> None:
        """Make `key` the current one in the registry (a new key found at start counts as a rotation)."""
        at = now.isoformat(timespec="seconds")
        if any(k.key_id == key.key_id and k.status == "current" for k in self._keys):
            return
        self._keys = [replace(k, status="retired", not_after=k.not_after or at) if k.status == "current" else k
                      for k in self._keys if k.key_id != key.key_id]  # fmt: skip
        self._keys.append(
            PublishedKey(key.key_id, key.public_key, fingerprint(key.public_key), at, None, "current")
        )
        _save(self._registry, self._keys)


def _load(path: Path) -> list[PublishedKey]:
    if not path.exists():
        return []
    return [PublishedKey(**k) for k in json.loads(path.read_text())["keys"]]


def _save(path: Path, keys: list[PublishedKey]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"keys": [asdict(k) for k in keys]}, indent=2))
    os.replace(tmp, path)
