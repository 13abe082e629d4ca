"""Shared CLI plumbing for commands that talk to the server: the SDK client and output helpers.

Error → exit-code mapping lives in `cli/errors.py` (re-exported here for the commands).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from rich.console import Console

from brique.cli.errors import command, fail, user_errors
from brique.cli.profile import load_profile

if TYPE_CHECKING:
    from brique.sdk import Client

__all__ = ["client", "command", "err", "fail", "out", "print_json", "user_errors"]

# Piped output (scripts, CI logs) gets a wide console instead of Rich's 80-column default.
# No emoji codes: a job named "a:fire:b" prints as such, and rich skips loading its emoji table.
out = Console(width=None if sys.stdout.isatty() else 160, emoji=False)
err = Console(stderr=True, emoji=False)


def client() -> Client:
    from brique.sdk import Client  # httpx and the schemas: only for commands that call the server

    profile = load_profile()
    return Client(profile.url, profile.api_key)


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    out.print_json(json.dumps(value))
