"""The SDK's errors, inside the one tree of `brique.errors`.

    BriqueError
    ├── ApiError                 any non-2xx answer: the server's status, stable code, message, field
    │   ├── ApiInvalidInput      also an InvalidInput     (422)
    │   ├── ApiUnauthenticated   also an Unauthenticated  (401)
    │   ├── ApiPermissionDenied  also a PermissionDenied  (403)
    │   ├── ApiBudgetExceeded    also a BudgetExceeded    (402)
    │   ├── ApiNotFound          also a NotFound          (404)
    │   ├── ApiConflict          also a Conflict          (409)
    │   ├── ApiRateLimited       also a RateLimited       (429)
    │   └── ApiUnavailable       also an Unavailable      (503)
    └── Unavailable
        └── ConnectionFailed     code "unreachable": no answer at all (refused, DNS, timeout)

So a caller catches one family: `except BriqueError`, or a kind (`except NotFound`) whether
the server or this process raised it, or `except ApiError` for anything the server answered.
"""

from __future__ import annotations

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


class ApiError(BriqueError):
    """The server answered with an error: its HTTP status, stable code, message and field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code  # the server's stable code, on the instance (codes are otherwise per class)
        self.status = status


class ConnectionFailed(Unavailable):
    """The server could not be reached at all."""

    code = "unreachable"


class ApiInvalidInput(ApiError, InvalidInput):
    """The server refused the input (422)."""


class ApiUnauthenticated(ApiError, Unauthenticated):
    """No valid API key (401)."""


class ApiPermissionDenied(ApiError, PermissionDenied):
    """The key's identity may not do this (403)."""


class ApiBudgetExceeded(ApiError, BudgetExceeded):
    """A budget's hard stop refused the job (402)."""


class ApiNotFound(ApiError, NotFound):
    """No such thing, or not visible to this key (404)."""


class ApiConflict(ApiError, Conflict):
    """The request conflicts with the current state (409)."""


class ApiRateLimited(ApiError, RateLimited):
    """Too many requests (429)."""


class ApiUnavailable(ApiError, Unavailable):
    """The server is up but cannot serve this now (503); worth retrying."""


_KINDS: tuple[type[ApiError], ...] = (ApiInvalidInput, ApiUnauthenticated, ApiPermissionDenied, ApiBudgetExceeded,
                                      ApiNotFound, ApiConflict, ApiRateLimited, ApiUnavailable)  # fmt: skip
_BY_STATUS: dict[int, type[ApiError]] = {cls.status: cls for cls in _KINDS}


def api_error(status: int, code: str, message: str, field: str | None = None) -> ApiError:
    """The `ApiError` for an answer: also of the tree's kind for its status, where there is one."""
    return _BY_STATUS.get(status, ApiError)(status, code, message, field)
