"""`brique trust`, `brique platform` and `brique audit witness`: pinned platform keys and witnesses.

Pinned keys live in the CLI profile (the file `BRIQUE_CONFIG` names) under `trusted_keys`; every
offline verification uses only them, or an explicit `--public-key`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from brique.cli.context import client, command, out
from brique.cli.profile import profile_path
from brique.crypto.offline import Untrusted, check_tree_head
from brique.domain.audit import TreeHead, compare_heads
from brique.errors import InvalidInput
from brique.sdk import ApiError, Client

trust_app = typer.Typer(help="Pinned platform signing keys (trust on first use).", no_args_is_help=True)
platform_app = typer.Typer(help="The platform's own keys (operator-admin).", no_args_is_help=True)

PublicKeyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--public-key", help="trust this platform key (base64, or its fingerprint) instead of the pinned ones"
    ),
]


def pinned_keys(explicit: list[str] | None = None) -> list[str]:
    """The keys an offline check may trust: `--public-key` values, else the profile's pinned keys."""
    if explicit:
        return explicit
    keys = [k["public_key"] for k in _profile().get("trusted_keys", [])]
    if not keys:
        raise InvalidInput("no platform key is pinned: run `brique trust fetch` (or pass --public-key)")
    return keys


def _profile() -> dict[str, Any]:
    path = profile_path()
    try:
        return dict(json.loads(path.read_text())) if path.exists() else {}
    except (OSError, ValueError):
        return {}


def _save_profile(doc: dict[str, Any]) -> Path:
    path = profile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=2)
    return path


@trust_app.command("fetch")
@command
def trust_fetch() -> None:
    """Fetch the platform's public keys and pin them in the profile (check the fingerprints out of band)."""
    with client() as c:
        keys = c.platform_keys()
    doc = _profile()
    known = {k["key_id"]: k for k in doc.get("trusted_keys", [])}
    for k in keys:
        if k.key_id in known and known[k.key_id]["public_key"] != k.public_key:
            raise InvalidInput(f"key {k.key_id} differs from the one pinned before: refusing to re-pin it")
        known[k.key_id] = k.model_dump(mode="json")
    doc["trusted_keys"] = list(known.values())
    path = _save_profile(doc)
    for k in keys:
        out.print(f"pinned {k.key_id} ({k.status}) fingerprint SHA256:{k.fingerprint}")
    out.print(f"{len(keys)} key(s) pinned in {path}")


@trust_app.command("list")
@command
def trust_list() -> None:
    """The pinned platform keys."""
    for k in _profile().get("trusted_keys", []):
        out.print(f"{k['key_id']} ({k['status']}) fingerprint SHA256:{k['fingerprint']}")


@platform_app.command("rotate-key")
@command
def rotate_key() -> None:
    """Make a new platform signing key current (operator-admin); the old one is retired and still verifies."""
    with client() as c:
        k = c.rotate_platform_key()
    out.print(
        f"new signing key {k.key_id} fingerprint SHA256:{k.fingerprint}; pin it with `brique trust fetch`"
    )


@command
def witness(
    state: Annotated[Path, typer.Option("--state", help="file keeping the last signed tree head seen")],
    public_key: PublicKeyOpt = None,
) -> None:
    """Check that the audit log only grew since the last run (run it on a schedule). Exit 1 on a
    rollback, a fork or a bad signature; the state file is updated only when all is consistent."""
    keys = pinned_keys(public_key)
    with client() as c:
        out.print(run_witness(c, state, keys))


def run_witness(c: Client, state: Path, keys: list[str]) -> str:
    """One witness run: fetch the signed head and a consistency proof from the stored one, check both."""
    old = TreeHead.from_doc(json.loads(state.read_text())) if state.exists() else None
    before = f" (last head seen: {old.describe()})" if old else ""
    try:
        new = TreeHead.from_doc(c.audit_tree_head().model_dump())
        check_tree_head(new, keys)
        proof = c.audit_consistency(old.size, new.size).proof if old and 0 < old.size < new.size else []
    except Untrusted as exc:
        raise InvalidInput(f"audit witness: {exc}{before}") from exc
    except ApiError as exc:
        raise InvalidInput(f"audit witness: the server cannot prove its log: {exc.message}{before}") from exc
    if old is not None:
        problem = compare_heads(old, new, proof)
        if problem:
            raise InvalidInput(f"audit witness: {problem}")
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps(new.to_doc()))
    seen = f"consistent with the head seen before (size {old.size})" if old else "first head stored"
    return f"audit witness OK: {new.describe()}; {seen}"
