"""`brique policy|access|secret|audit|sovereignty`: the sovereignty controls from the command line."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from brique.cli.context import client, command, out, print_json
from brique.cli.trust import PublicKeyOpt, pinned_keys, witness
from brique.crypto.offline import Untrusted, check_envelope, check_export
from brique.errors import InvalidInput

policy_app = typer.Typer(
    help="Residency policy of an org or project (where its jobs may run).", no_args_is_help=True
)
access_app = typer.Typer(help="Operator access to tenant data (lockbox): request, approve, revoke.",
                         no_args_is_help=True)  # fmt: skip
secret_app = typer.Typer(
    help="Tenant secrets (encrypted; injected into jobs; never shown).", no_args_is_help=True
)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
sov_app = typer.Typer(help="Signed evidence of where workloads ran and who could touch them.",
                      no_args_is_help=True)  # fmt: skip

OrgArg = Annotated[str, typer.Option("--org", help="org name or id")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


@policy_app.command("show")
@command
def policy_show(
    org: OrgArg, project: Annotated[str | None, typer.Option()] = None, as_json: JsonOpt = False
) -> None:
    """The policy set at this level and the effective one."""
    with client() as c:
        found = c.get_policy(org, project)
    if as_json:
        print_json(found)
        return
    out.print(f"policy: {found.policy.name or 'anywhere'}\neffective: {found.effective.name or 'anywhere'}")


@policy_app.command("set")
@command
def policy_set(
    org: OrgArg,
    project: Annotated[str | None, typer.Option(help="narrow for one project")] = None,
    country: Annotated[list[str] | None, typer.Option(help="allowed country (repeat)")] = None,
    cert: Annotated[list[str] | None, typer.Option(help="required site certification (repeat)")] = None,
    site: Annotated[list[str] | None, typer.Option(help="allowed site (repeat)")] = None,
    eu_only: Annotated[bool, typer.Option("--eu-only", help="EU member states only")] = False,
    operator_in_eu: Annotated[bool, typer.Option("--operator-in-eu", help="operator HQ in the EU")] = False,
    name: Annotated[str, typer.Option(help="label shown in reasons")] = "",
) -> None:
    """Set a residency policy (tenant-admin). Running jobs outside it are listed, never moved."""
    doc = {"countries": country, "certifications": cert or [], "sites": site, "eu_only": eu_only,
           "operator_in_eu": operator_in_eu, "name": name}  # fmt: skip
    with client() as c:
        change = c.set_policy(org, doc, project)
    out.print(f"policy set: {change.policy.name}; effective: {change.effective.name}")
    if change.pending_narrowed:
        out.print(f"pending jobs now held to it: {', '.join(change.pending_narrowed)}")
    if change.running_outside:
        out.print(
            f"[yellow]running jobs outside it (not moved): {', '.join(change.running_outside)}[/yellow]"
        )


@access_app.command("request")
@command
def access_request(
    scope_id: Annotated[str, typer.Argument(help="job id or project id")],
    justification: Annotated[str, typer.Option(help="why access is needed")],
    scope: Annotated[str, typer.Option(help="job or project")] = "job",
    hours: Annotated[float, typer.Option(min=0.02, max=8.0, help="duration, at most 8 h")] = 1.0,
    break_glass: Annotated[
        bool, typer.Option("--break-glass", help="incident: a 2nd operator confirms")
    ] = False,
) -> None:
    """Ask a tenant for time-boxed access to its data (operators)."""
    with client() as c:
        r = c.request_access(scope, scope_id, justification, int(hours * 3600), break_glass)
    nxt = "a second operator must confirm it" if break_glass else "waiting for the tenant's decision"
    out.print(f"access request {r.id} on {r.scope} {r.scope_id}: {r.status} ({nxt})")


@access_app.command("list")
@command
def access_list(org: Annotated[str | None, typer.Option()] = None, as_json: JsonOpt = False) -> None:
    """Access requests on your data (tenants), or all (operators)."""
    with client() as c:
        found = c.access_requests(org)
    if as_json:
        print_json(found)
        return
    table = Table("id", "scope", "operator", "status", "break-glass", "until", "justification")
    for r in found:
        until = r.expires_at.strftime("%Y-%m-%d %H:%M") if r.expires_at else ""
        table.add_row(r.id, f"{r.scope} {r.scope_id}", r.requested_by, r.status, "yes" if r.break_glass else "",
                      until, r.justification)  # fmt: skip
    out.print(table)


def _decide(verb: str) -> Any:
    @command
    def run(request_id: Annotated[str, typer.Argument(help="access request id (acc_…)")]) -> None:
        with client() as c:
            r = c.decide_access(request_id, verb)
        out.print(f"{r.id}: {r.status}")

    run.__doc__ = {"approve": "Approve a request (tenant-admin).", "deny": "Deny a request (tenant-admin).",
                   "revoke": "End access now.", "confirm": "Confirm a break-glass request (a second operator)."}[verb]  # fmt: skip
    return run


for _verb in ("approve", "deny", "revoke", "confirm"):
    access_app.command(_verb)(_decide(_verb))


@secret_app.command("set")
@command
def secret_set(name: Annotated[str, typer.Argument(help="env var name")], org: OrgArg,
               value_stdin: Annotated[bool, typer.Option("--stdin", help="read the value from stdin")] = False) -> None:  # fmt: skip
    """Store a secret (the value is read from stdin or a prompt, never from the command line)."""
    value = sys.stdin.read().rstrip("\n") if value_stdin else getpass.getpass(f"value of {name}: ")
    with client() as c:
        c.put_secret(org, name, value)
    out.print(f"secret {name} stored (encrypted)")


@secret_app.command("list")
@command
def secret_list(org: OrgArg) -> None:
    """Secret names (values are never shown)."""
    with client() as c:
        for s in c.list_secrets(org):
            out.print(f"{s.name}  (updated {s.updated_at:%Y-%m-%d %H:%M} by {s.updated_by})")


@secret_app.command("delete")
@command
def secret_delete(name: str, org: OrgArg) -> None:
    """Delete a secret."""
    with client() as c:
        c.delete_secret(org, name)
    out.print(f"secret {name} deleted")


@secret_app.command("destroy-key")
@command
def destroy_key(org: OrgArg, yes: Annotated[bool, typer.Option("--yes", help="confirm")] = False,
                confirm: Annotated[str | None, typer.Option(help="(2nd operator) the erasure request id")] = None) -> None:  # fmt: skip
    """Crypto-erase: destroy the org's data key (contract end). Tenant-admin, or an operator-admin's request
    confirmed by a second operator (--confirm). Prints the signed certificate."""
    if not yes:
        raise InvalidInput("this makes every secret of the organization unrecoverable; add --yes to confirm")
    with client() as c:
        print_json(c.destroy_tenant_key(org, confirm))


@audit_app.command("verify")
@command
def audit_verify() -> None:
    """Check the whole log (operators): chain, every signed tree head, and the server's last signed head
    (kept outside the database). Names the first bad record. Exit 1 if anything is wrong."""
    with client() as c:
        v = c.verify_audit()
    if v.ok:
        out.print(f"audit chain OK: {v.checked} records, head {v.head_seq}, {v.signed_heads} signed tree heads "
                  "match the records")  # fmt: skip
        return
    where = f" at record {v.first_bad}" if v.first_bad else ""
    raise InvalidInput(f"audit chain BROKEN{where}: {v.problem}")


audit_app.command("witness")(witness)


@audit_app.command("export")
@command
def audit_export(org: Annotated[str | None, typer.Option(help="org (operators)")] = None,
                 output: Annotated[Path | None, typer.Option("-o", help="file")] = None) -> None:  # fmt: skip
    """An org's own audit records, with what is needed to verify them offline."""
    with client() as c:
        doc = c.export_audit(org)
    text = json.dumps(doc, indent=2)
    if output:
        output.write_text(text)
        out.print(f"{len(doc['records'])} records written to {output}")
    else:
        sys.stdout.write(text + "\n")


@audit_app.command("verify-export")
@command
def audit_verify_export(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
                        public_key: PublicKeyOpt = None) -> None:  # fmt: skip
    """Verify an export offline with the pinned keys: record hashes, inclusion proofs, the signed tree head."""
    keys = pinned_keys(public_key)
    try:
        out.print(check_export(json.loads(file.read_text()), keys))
    except (Untrusted, KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{file}: INVALID: {exc}") from exc


@sov_app.command("report")
@command
def report(org: OrgArg, since: Annotated[str, typer.Option("--from", help="ISO date/time (UTC)")],
           until: Annotated[str, typer.Option("--to", help="ISO date/time (UTC)")],
           output: Annotated[Path | None, typer.Option("-o", help="file")] = None) -> None:  # fmt: skip
    """Signed evidence: for each job, where it ran, under whom, and any operator access."""
    with client() as c:
        doc = c.sovereignty_report(org, since, until)
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    if output:
        output.write_text(text)
        out.print(f"report on {doc['summary']['jobs']} jobs written to {output} (signed)")
    else:
        sys.stdout.write(text + "\n")


@sov_app.command("verify")
@command
def verify_report(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
                  public_key: PublicKeyOpt = None) -> None:  # fmt: skip
    """Verify a signed report (or certificate) offline with the pinned keys. Exit 1 if it was modified
    or signed by a key that is not pinned."""
    keys = pinned_keys(public_key)
    try:
        out.print(f"{file}: {check_envelope(json.loads(file.read_text()), keys)}")
    except (Untrusted, ValueError) as exc:
        raise InvalidInput(f"{file}: INVALID: {exc}") from exc
