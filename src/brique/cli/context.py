"""Shared CLI plumbing for commands that talk to the server: the SDK client and output helpers.

Error → exit-code mapping lives in `cli/errors.py` (re-exported here for the commands).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from rich.console import Console

from brique.cli.errors import command, fail, user_errors
from brique.cli.profile import load_profile

if TYPE_CHECKING:
    import ssl

    from brique.sdk import Client

__all__ = ["client", "command", "err", "fail", "out", "print_json", "tls_from_env", "user_errors"]

# Piped output (scripts, CI logs) gets a wide console instead of Rich's 80-column default.
# No emoji codes: a job named "a:fire:b" prints as such, and rich skips loading its emoji table.
out = Console(width=None if sys.stdout.isatty() else 160, emoji=False)
err = Console(stderr=True, emoji=False)


def client() -> Client:
    from brique.sdk import Client  # httpx and the schemas: only for commands that call the server

    profile = load_profile()
    return Client(profile.url, profile.api_key, verify=tls_from_env())


def tls_from_env() -> ssl.SSLContext | bool:
    """BRIQUE_CA_FILE pins the server's CA; BRIQUE_CLIENT_CERT/_KEY answer a mutual-TLS server."""
    ca, cert, key = (os.environ.get(f"BRIQUE_{name}") for name in ("CA_FILE", "CLIENT_CERT", "CLIENT_KEY"))
    if not ca and not cert:
        return True
    import ssl  # only when a CA or client certificate is configured

    from brique.agent.tls import client_context

    try:
        return client_context(
            Path(ca) if ca else None, Path(cert) if cert else None, Path(key) if key else None
        )
    except (OSError, ssl.SSLError) as exc:
        raise fail(f"BRIQUE_CA_FILE / BRIQUE_CLIENT_CERT: {exc}") from None


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    out.print_json(json.dumps(value))
