"""`brique project quota|member`: a project's GPU quota, fair-share weight, members and roles."""

from __future__ import annotations

from typing import Annotated

import typer

from brique.cli.context import client, command, out, print_json

OrgArg = Annotated[str, typer.Argument(help="org name or id")]
ProjectArg = Annotated[str, typer.Argument(help="project name or id")]


@command
def quota(
    org: OrgArg,
    project: ProjectArg,
    max_gpus: Annotated[int | None, typer.Option("--max-gpus", min=0, help="most GPUs held at once (omit: none)")] = None,
    weight: Annotated[float, typer.Option("--weight", min=0.001, help="fair-share weight among the org's projects")] = 1.0,
    guaranteed: Annotated[int, typer.Option("--guaranteed", min=0, help="share of the org's guarantee")] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Set a project's quota, weight and guaranteed share (tenant admins)."""
    with client() as c:
        g = c.set_project_governance(org, project, {"max_gpus": max_gpus, "weight": weight,
                                                    "guaranteed_gpus": guaranteed})  # fmt: skip
    if as_json:
        print_json(g)
        return
    cap = "no quota" if g.max_gpus is None else f"at most {g.max_gpus} GPUs"
    out.print(f"project {g.project}: {cap}, weight {g.weight:g}, guaranteed {g.guaranteed_gpus}", highlight=False)


@command
def member(
    org: OrgArg,
    project: ProjectArg,
    user_id: Annotated[str, typer.Argument(help="user id (usr_…)")],
    role: Annotated[str, typer.Option("--role", help="project-admin, member or viewer")] = "member",
    remove: Annotated[bool, typer.Option("--remove", help="take the user out of the project")] = False,
) -> None:
    """Add a user to a project with a role, change it, or remove the user."""
    with client() as c:
        if remove:
            c.remove_project_member(org, project, user_id)
        else:
            c.set_project_member(org, project, user_id, role)
    out.print(f"{user_id} {'removed from' if remove else f'is {role} of'} project {project}", highlight=False)
