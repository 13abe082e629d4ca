"""The one mapping from the error tree to the command line: one line on stderr, exit code 1.

Every `BriqueError` (the SDK's `ApiError` and `ConnectionFailed` included) becomes
`error: <message> (<field>)<hint>`. Light on purpose: no SDK, and rich only once something failed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer

from brique.errors import BriqueError

EXIT_USER_ERROR = 1
# What the user can do about it, by stable code.
HINTS = {
    "unauthenticated": " — set BRIQUE_API_KEY or run `brique login`",
    "unreachable": " — is `brique up` running? (set BRIQUE_URL)",
}


def describe(exc: BriqueError) -> str:
    where = f" ({exc.field})" if exc.field and exc.field not in exc.message else ""
    return f"{exc.message}{where}{HINTS.get(exc.code, '')}"


def fail(message: str) -> typer.Exit:
    """Print `error: message` on stderr; return the exit to raise."""
    from rich.console import Console  # only on the way out: most commands never fail

    Console(stderr=True, emoji=False).print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=EXIT_USER_ERROR)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn every expected failure into one line on stderr and exit code 1."""
    try:
        yield
    except BriqueError as exc:
        raise fail(describe(exc)) from None


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: run a command body inside `user_errors`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with user_errors():
            return fn(*args, **kwargs)

    return wrapper
