"""One typed error tree with stable codes, mapped once at each edge.

    BriqueError                   code              HTTP  CLI exit
    ├── InvalidInput              invalid_input      422   1
    │   ├── FleetFileInvalid      fleet_invalid      422   1
    │   └── PricebookInvalid      pricebook_invalid  422   1
    ├── Unauthenticated           unauthenticated    401   1
    ├── PermissionDenied          forbidden          403   1
    │   ├── TenantOnly            tenant_only        403   1   (an operator identity tried a tenant action)
    │   ├── OperatorOnly          operator_only      403   1   (a tenant identity tried an operator action)
    │   ├── LockboxRequired       lockbox            403   1   (tenant data without an approved grant)
    │   ├── CsrfRejected          csrf               403   1   (a console form without its valid CSRF token)
    │   ├── ReadOnly              read_only          403   1   (an auditor tried to act)
    │   ├── OperatorAdminOnly     operator_admin_only 403  1   (the platform's keys)
    │   ├── FourEyesRequired      four_eyes          403   1   (needs a second, distinct operator)
    │   └── OrgSuspended          org_suspended      403   1   (the key's organization is suspended)
    ├── BudgetExceeded            budget_exceeded    402   1   (a budget's hard stop refuses the job)
    ├── NotFound                  not_found          404   1
    ├── Conflict                  conflict           409   1
    │   ├── StaleWrite            conflict           409   1   (a version-guarded write lost a race)
    │   ├── Duplicate             conflict           409   1   (a unique constraint refused a row)
    │   └── AuditLogInconsistent  audit_log_inconsistent 409 1 (the log disagrees with its signed heads)
    ├── RateLimited               rate_limited       429   1
    ├── Unavailable               unavailable        503   1
    │   └── sdk.ConnectionFailed  unreachable        -     1   (SDK side: the server could not be reached)
    ├── ExecutorError             executor_error     502   1   (a backend refused or failed an operation)
    └── sdk.ApiError              the server's code  its   1   (SDK side: an error the server answered)

Adapters translate foreign exceptions at their boundary (`raise … from exc`): the store turns
`IntegrityError` into `Duplicate`, executors raise `ExecutorError`, the SDK raises `ApiError`
and `ConnectionFailed`. `api/errors.py` maps the tree to `{"error": {"code", "message",
"field"?}}` with `status`; `cli/` catches `BriqueError` alone and exits 1 with its message.
Stable codes are the `code` attributes above (listed in `CODES`), never invented at a raise site.
"""

from __future__ import annotations


class BriqueError(Exception):
    code = "error"
    status = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


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


class PricebookInvalid(InvalidInput):
    """The price book file breaks a rule."""

    code = "pricebook_invalid"


class Unauthenticated(BriqueError):
    code = "unauthenticated"
    status = 401


class PermissionDenied(BriqueError):
    code = "forbidden"
    status = 403


class TenantOnly(PermissionDenied):
    """A tenant's action (or a tenant's data) that operator identities never take."""

    code = "tenant_only"


class OperatorOnly(PermissionDenied):
    """An operator's action that tenant identities never take."""

    code = "operator_only"


class LockboxRequired(PermissionDenied):
    """Tenant data that an operator reads only under an access request the tenant approved."""

    code = "lockbox"


class CsrfRejected(PermissionDenied):
    """A console form posted without its valid CSRF token (forged, or the page is stale)."""

    code = "csrf"


class ReadOnly(PermissionDenied):
    """An auditor's identity: it reads, it never acts."""

    code = "read_only"


class OperatorAdminOnly(PermissionDenied):
    """An action reserved to operator-admins (the platform's own keys)."""

    code = "operator_admin_only"


class FourEyesRequired(PermissionDenied):
    """An action that needs a second, distinct operator."""

    code = "four_eyes"


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


class StaleWrite(Conflict):
    """A version-guarded write found the object changed under it: reload and decide again."""

    def __init__(self, object_id: str) -> None:
        super().__init__(f"{object_id} changed while it was being updated; retry")
        self.object_id = object_id


class Duplicate(Conflict):
    """The store refused a row that would break a uniqueness rule."""


class AuditLogInconsistent(Conflict):
    """The audit log disagrees with its signed heads: the server refuses to sign over it."""

    code = "audit_log_inconsistent"


class RateLimited(BriqueError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after_s: float | None = None, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after_s = retry_after_s


class Unavailable(BriqueError):
    code = "unavailable"
    status = 503


class ExecutorError(BriqueError):
    """A backend (Slurm, an agent, a runtime) refused or failed; the message is safe to show the tenant."""

    code = "executor_error"
    status = 502


CODES: frozenset[str] = frozenset(
    cls.code
    for cls in (
        BriqueError, InvalidInput, FleetFileInvalid, PricebookInvalid, Unauthenticated, PermissionDenied,
        TenantOnly, OperatorOnly, LockboxRequired, CsrfRejected, ReadOnly, OperatorAdminOnly, FourEyesRequired,
        BudgetExceeded, NotFound, Conflict, StaleWrite, Duplicate, AuditLogInconsistent, RateLimited, Unavailable, ExecutorError,
    )
)  # fmt: skip


class NotLeader(StaleWrite):
    """This replica's leader term ended (another replica leads now): its scheduling writes are refused."""


class OrgSuspended(PermissionDenied):
    """The caller's organization is suspended by an operator: none of its keys may act."""

    code = "org_suspended"


class PayloadTooLarge(BriqueError):
    """A request body over a limit (the inference gateway's); the message names the limit."""

    code = "too_large"
    status = 413


class ReservationConflict(Conflict):
    """A reservation does not fit beside the approved ones it overlaps (the message says why)."""

    code = "reservation_conflict"


CODES = CODES | {OrgSuspended.code, PayloadTooLarge.code, ReservationConflict.code}
