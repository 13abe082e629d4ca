"""One error family: the SDK's errors are `BriqueError`s, and the CLI maps the family once."""

from __future__ import annotations

import pytest

from brique.cli.errors import describe
from brique.errors import (
    BriqueError,
    BudgetExceeded,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from brique.sdk import ApiError, ConnectionFailed
from brique.sdk.errors import api_error


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (422, InvalidInput),
        (401, Unauthenticated),
        (403, PermissionDenied),
        (402, BudgetExceeded),
        (404, NotFound),
        (409, Conflict),
        (429, RateLimited),
        (503, Unavailable),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else v.__name__,
)
def test_an_answer_is_an_api_error_of_the_kind_its_status_names(status: int, kind: type[BriqueError]) -> None:
    exc = api_error(status, "server_code", "said the server", "spec.gpus")
    assert isinstance(exc, ApiError) and isinstance(exc, kind) and isinstance(exc, BriqueError)
    assert (exc.status, exc.code, exc.message, exc.field) == (
        status,
        "server_code",
        "said the server",
        "spec.gpus",
    )
    assert str(exc) == "said the server"


@pytest.mark.parametrize("status", [400, 405, 500, 502])
def test_other_statuses_are_plain_api_errors(status: int) -> None:
    exc = api_error(status, "http_error", f"HTTP {status}")
    assert type(exc) is ApiError and isinstance(exc, BriqueError) and exc.status == status


def test_an_unreachable_server_is_unavailable_with_its_own_code() -> None:
    exc = ConnectionFailed("cannot reach the Brique server at http://127.0.0.1:9")
    assert isinstance(exc, Unavailable) and not isinstance(exc, ApiError)
    assert (exc.code, exc.status, exc.field) == ("unreachable", 503, None)


def test_api_error_keeps_its_positional_signature() -> None:
    exc = ApiError(404, "not_found", "no job job_x", None)
    assert (exc.status, exc.code, exc.message, exc.field) == (404, "not_found", "no job job_x", None)


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (
            api_error(401, "unauthenticated", "invalid API key"),
            "invalid API key — set BRIQUE_API_KEY or run `brique login`",
        ),
        (
            ConnectionFailed("cannot reach the Brique server at http://x (refused)"),
            "cannot reach the Brique server at http://x (refused) — is `brique up` running? (set BRIQUE_URL)",
        ),
        (api_error(422, "invalid_input", "must be >= 1", "gpus"), "must be >= 1 (gpus)"),
        (api_error(422, "invalid_input", "gpus: must be >= 1", "gpus"), "gpus: must be >= 1"),
        (InvalidInput("job.yaml: name: is required"), "job.yaml: name: is required"),
        (api_error(500, "internal", "internal error"), "internal error"),
    ],
    ids=["401-hint", "unreachable-hint", "field-added", "field-already-named", "local-error", "500"],
)
def test_the_cli_describes_every_error_of_the_family_in_one_line(exc: BriqueError, line: str) -> None:
    assert describe(exc) == line
