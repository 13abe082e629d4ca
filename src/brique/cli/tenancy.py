"""`brique org|project|user|key`: tenants, their projects, identities and API keys."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from brique.cli import projects
from brique.cli.context import client, command, out, print_json
from brique.domain.tenancy import Role
from brique.sdk import Client

org_app = typer.Typer(help="Organizations (tenants).", no_args_is_help=True)
project_app = typer.Typer(help="Projects inside an organization.", no_args_is_help=True)
project_app.command("quota")(projects.quota)  # governance (issue 16): cli/projects.py
project_app.command("member")(projects.member)
user_app = typer.Typer(help="Users (people and service identities) and their roles.", no_args_is_help=True)
key_app = typer.Typer(help="API keys (shown once at creation; only a hash is stored).", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
OrgOpt = Annotated[str | None, typer.Option("--org", help="org name or id (default: your own org)")]


def _org(c: Client, org: str | None) -> str:
    if org:
        return org
    me = c.whoami()
    if me.org_id is None:
        raise typer.BadParameter("operators must name the organization with --org", param_hint="--org")
    return me.org_id


@org_app.command("create")
@command
def org_create(
    name: Annotated[str, typer.Argument(help="unique slug, e.g. 'ministere-armees'")],
    display_name: Annotated[str | None, typer.Option(help="human name")] = None,
    country: Annotated[str, typer.Option(help="ISO country code of the tenant")] = "FR",
    admin_email: Annotated[
        str | None, typer.Option(help="also create a tenant-admin and print its key")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an organization (operator-admin only)."""
    with client() as c:
        created = c.create_org(name, display_name=display_name, country=country, admin_email=admin_email)
    if as_json:
        print_json(created)
        return
    out.print(f"created organization {created.org.name} ({created.org.id})")
    if created.admin and created.admin_key:
        out.print(f"tenant-admin {created.admin.email} ({created.admin.id})")
        out.print("API key (shown once, store it now):")
        out.print(created.admin_key.token, highlight=False, soft_wrap=True)


@org_app.command("list")
@command
def org_list(as_json: JsonOpt = False) -> None:
    """Organizations you can see (operators: all; tenants: their own)."""
    with client() as c:
        orgs = c.list_orgs()
    if as_json:
        print_json(orgs)
        return
    table = Table("id", "name", "display name", "country", "created")
    for o in orgs:
        table.add_row(o.id, o.name, o.display_name, o.country, o.created_at.strftime("%Y-%m-%d %H:%M"))
    out.print(table)


@org_app.command("suspend")
@command
def org_suspend(
    org: Annotated[str, typer.Argument(help="org name or id")],
    reason: Annotated[str, typer.Option("--reason", help="why (audited)")],
) -> None:
    """Suspend an organization (operator-admin): every API key of its users is refused until resumed."""
    with client() as c:
        found = c.suspend_org(org, reason)
    out.print(f"suspended organization {found.name} ({found.id}): its API keys are refused")


@org_app.command("resume")
@command
def org_resume(
    org: Annotated[str, typer.Argument(help="org name or id")],
    reason: Annotated[str | None, typer.Option("--reason", help="why (audited)")] = None,
) -> None:
    """Resume a suspended organization (operator-admin): its API keys work again."""
    with client() as c:
        found = c.resume_org(org, reason)
    out.print(f"resumed organization {found.name} ({found.id})")


@project_app.command("create")
@command
def project_create(
    name: Annotated[str, typer.Argument(help="project slug, unique in the org")],
    org: OrgOpt = None,
    description: Annotated[str, typer.Option(help="free text")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a project (tenant-admin)."""
    with client() as c:
        project = c.create_project(_org(c, org), name, description)
    if as_json:
        print_json(project)
        return
    out.print(f"created project {project.name} ({project.id})")


@project_app.command("list")
@command
def project_list(org: OrgOpt = None, as_json: JsonOpt = False) -> None:
    """Projects of an organization."""
    with client() as c:
        projects = c.list_projects(_org(c, org))
    if as_json:
        print_json(projects)
        return
    table = Table("id", "name", "description", "created")
    for p in projects:
        table.add_row(p.id, p.name, p.description, p.created_at.strftime("%Y-%m-%d %H:%M"))
    out.print(table)


@user_app.command("create")
@command
def user_create(
    email: Annotated[str, typer.Argument(help="email of the person or service identity")],
    role: Annotated[Role, typer.Option(help="role")] = Role.TENANT_MEMBER,
    org: OrgOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a user. Operator roles belong to no org; tenant roles to one."""
    with client() as c:
        user = c.create_user(None if role.is_operator else _org(c, org), email, role.value)
    if as_json:
        print_json(user)
        return
    out.print(f"created user {user.email} ({user.id}) with role {user.role.value}")


@user_app.command("list")
@command
def user_list(
    org: OrgOpt = None,
    operators: Annotated[bool, typer.Option("--operators", help="list operator identities")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Users of an organization (or operator identities)."""
    with client() as c:
        users = c.list_users(None if operators else _org(c, org))
    if as_json:
        print_json(users)
        return
    table = Table("id", "email", "role", "created")
    for u in users:
        table.add_row(u.id, u.email, u.role.value, u.created_at.strftime("%Y-%m-%d %H:%M"))
    out.print(table)


@key_app.command("create")
@command
def key_create(
    name: Annotated[str, typer.Option(help="a label, e.g. 'ci' or 'laptop'")] = "default",
    user: Annotated[str | None, typer.Option("--user", help="user id (default: yourself)")] = None,
    expires_days: Annotated[int | None, typer.Option(min=1, max=3650, help="expiry in days")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key. The key is printed once; only its hash is stored."""
    with client() as c:
        key = c.create_key(name, user_id=user, expires_days=expires_days)
    if as_json:
        print_json(key)
        return
    out.print(f"created API key {key.id} for {key.user_id} (shown once, store it now):")
    out.print(key.token, highlight=False, soft_wrap=True)


@key_app.command("list")
@command
def key_list(
    org: Annotated[str | None, typer.Option(help="org name or id")] = None, as_json: JsonOpt = False
) -> None:
    """API keys you may see (never their secrets)."""
    with client() as c:
        keys = c.list_keys(org)
    if as_json:
        print_json(keys)
        return
    table = Table("id", "prefix", "name", "user", "created", "last used", "status")
    for k in keys:
        status = "revoked" if k.revoked_at else "active"
        used = k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "-"
        table.add_row(
            k.id, k.prefix, k.name, k.user_id, k.created_at.strftime("%Y-%m-%d %H:%M"), used, status
        )
    out.print(table)


@key_app.command("revoke")
@command
def key_revoke(key_id: Annotated[str, typer.Argument(help="key id (key_…)")]) -> None:
    """Revoke an API key at once."""
    with client() as c:
        key = c.revoke_key(key_id)
    out.print(f"revoked {key.id}")
