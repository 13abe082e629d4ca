"""Shared CLI plumbing: the SDK client, output helpers, and error → exit-code mapping."""

from __future__ import annotations

import functools
import json
import os
import ssl
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console

from brique.agent.tls import client_context
from brique.cli.profile import load_profile
from brique.errors import BriqueError
from brique.sdk import ApiError, Client, ConnectionFailed

# Piped output (scripts, CI logs) gets a wide console instead of Rich's 80-column default.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def client() -> Client:
    profile = load_profile()
    return Client(profile.url, profile.api_key, verify=tls_from_env())


def tls_from_env() -> ssl.SSLContext | bool:
    """BRIQUE_CA_FILE pins the server's CA; BRIQUE_CLIENT_CERT/_KEY answer a mutual-TLS server."""
    ca, cert = os.environ.get("BRIQUE_CA_FILE"), os.environ.get("BRIQUE_CLIENT_CERT")
    if not ca and not cert:
        return True
    try:
        return client_context(
            Path(ca) if ca else None,
            Path(cert) if cert else None,
            Path(os.environ["BRIQUE_CLIENT_KEY"]) if os.environ.get("BRIQUE_CLIENT_KEY") else None,
        )
    except (OSError, ssl.SSLError) as exc:
        raise fail(f"BRIQUE_CA_FILE / BRIQUE_CLIENT_CERT: {exc}") from None


def fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn every expected failure into one line on stderr and exit code 1."""
    try:
        yield
    except ApiError as exc:
        where = f" ({exc.field})" if exc.field and exc.field not in exc.message else ""
        hint = " — set BRIQUE_API_KEY or run `brique login`" if exc.status == 401 else ""
        raise fail(f"{exc.message}{where}{hint}") from None
    except ConnectionFailed as exc:
        raise fail(f"{exc} — is `brique up` running? (set BRIQUE_URL)") from None
    except BriqueError as exc:
        raise fail(exc.message) from None


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    out.print_json(json.dumps(value))


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: run a command body inside `user_errors`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with user_errors():
            return fn(*args, **kwargs)

    return wrapper
