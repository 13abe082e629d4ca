"""One typed error tree with stable codes, mapped once at each edge.

    BriqueError                 code            HTTP  CLI exit
    ├── InvalidInput            invalid_input    422   1
    │   └── FleetFileInvalid    fleet_invalid    422   1
    ├── Unauthenticated         unauthenticated  401   1
    ├── PermissionDenied        forbidden        403   1
    ├── BudgetExceeded          budget_exceeded  402   1   (a budget's hard stop refuses the job)
    ├── NotFound                not_found        404   1
    ├── Conflict                conflict         409   1
    ├── RateLimited             rate_limited     429   1
    └── Unavailable             unavailable      503   1

`api/errors.py` maps these to HTTP responses `{"error": {"code", "message", "field"?}}`;
`cli/` maps them (and the SDK's `ApiError`) to a one-line message and exit code 1.
"""

from __future__ import annotations


class BriqueError(Exception):
    code = "error"
    status = 500

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class InvalidInput(BriqueError):
    code = "invalid_input"
    status = 422


class FleetFileInvalid(InvalidInput):
    code = "fleet_invalid"

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"{path}: {p}" for p in problems)
        super().__init__(lines)


class Unauthenticated(BriqueError):
    code = "unauthenticated"
    status = 401


class PermissionDenied(BriqueError):
    code = "forbidden"
    status = 403


class BudgetExceeded(BriqueError):
    """A budget with a hard stop is spent: new standard-tier jobs are refused (HTTP 402)."""

    code = "budget_exceeded"
    status = 402


class NotFound(BriqueError):
    code = "not_found"
    status = 404


class Conflict(BriqueError):
    code = "conflict"
    status = 409


class RateLimited(BriqueError):
    code = "rate_limited"
    status = 429


class Unavailable(BriqueError):
    code = "unavailable"
    status = 503
