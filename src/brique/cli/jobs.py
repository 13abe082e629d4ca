"""`brique submit|jobs|job show|cancel|events|logs`: run work on the cloud and watch it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from brique.cli.context import client, command, out, print_json
from brique.domain.job_lifecycle import JobState
from brique.errors import InvalidInput
from brique.schemas.errors import first_problem
from brique.schemas.jobs import JobSubmitRequest

job_app = typer.Typer(help="One job: show, cancel, logs.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _load_spec(path: str, project: str | None) -> JobSubmitRequest:
    import yaml  # ~10 ms that only `submit` needs

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read file: {exc.strerror or exc}") from exc
    try:
        doc: Any = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path}: not valid YAML or JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise InvalidInput(f"{path}: must be a mapping of job fields (name, project, command, gpus, ...)")
    if project:
        doc["project"] = project
    try:
        return JobSubmitRequest.model_validate(doc)
    except ValidationError as exc:
        field, rule = first_problem(exc.errors())
        raise InvalidInput(f"{path}: {field}: {rule}") from exc


@command
def submit(
    file: Annotated[str, typer.Argument(help="job spec, YAML or JSON ('-' for stdin)")],
    project: Annotated[str | None, typer.Option(help="override the spec's project")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what the scheduler would do; create nothing")
    ] = False,
    array: Annotated[
        str | None,
        typer.Option("--array", help="a job array: 0-9999, 0-9:2, 1,3,5-7, with %N to run N at once"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Submit a job (or ask the scheduler's verdict with --dry-run)."""
    spec = _load_spec(file, project)
    with client() as c:
        result = c.submit_job(spec, dry_run=dry_run, array=array)
    if as_json:
        print_json(result)
        return
    if result.array is not None:
        a, again = result.array, " (already submitted with this Idempotency-Key)" if result.replayed else ""
        limit = f", at most {a.max_running} at once" if a.max_running else ""
        out.print(f"submitted array {a.id} ({a.name}): {a.tasks} tasks{limit}{again}")
        return
    if result.dry_run is not None:
        out.print(result.dry_run.message, highlight=False)
        return
    assert result.job is not None
    again = " (already submitted with this Idempotency-Key)" if result.replayed else ""
    out.print(f"submitted {result.job.id} ({result.job.name}): {result.job.state.value}{again}")


@command
def jobs(
    project: Annotated[str | None, typer.Option(help="only this project")] = None,
    state: Annotated[list[JobState] | None, typer.Option(help="only these states (repeat)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List jobs, newest first."""
    with client() as c:
        found = c.list_jobs(project, [s.value for s in state] if state else None, limit)
    if as_json:
        print_json(found)
        return
    table = Table("id", "name", "state", "tier", "GPUs", "site", "submitted", "why pending")
    for j in found:
        table.add_row(j.id, j.name, j.state.value, j.tier.value, str(j.gpus), j.site or "",
                      j.submitted_at.strftime("%Y-%m-%d %H:%M:%S"), j.why_pending or "")  # fmt: skip
    out.print(table)


@job_app.command("show")
@command
def show(job_id: Annotated[str, typer.Argument(help="job id (job_…)")], as_json: JsonOpt = False) -> None:
    """Spec, state, placement, events, and why it is pending."""
    with client() as c:
        job = c.get_job(job_id)
    if as_json:
        print_json(job)
        return
    out.print(f"[bold]{job.id}[/bold] {job.name or '(name hidden)'}  state={job.state.value}  tier={job.tier.value}  "
              f"GPUs={job.gpus}  attempt={job.attempt}", highlight=False)  # fmt: skip
    if job.site:
        out.print(f"placement: {job.site} racks {', '.join(job.racks)}", highlight=False)
    if job.gpu_seconds:
        out.print(f"usage: {job.gpu_seconds / 3600:,.2f} GPU-h, {job.energy_kwh:,.2f} kWh, "
                  f"{job.co2e_kg:,.3f} kgCO2e", highlight=False)  # fmt: skip
    if job.why_pending:
        out.print(f"why pending: {job.why_pending}", highlight=False)
    if job.stopping:
        out.print(f"stopping: {job.stopping}")
    if "command" in job.spec:  # operators without a grant see no command
        out.print(f"command: {job.spec['command']}", highlight=False)
    table = Table("at", "attempt", "from", "to", "code", "message")
    for e in job.events:
        table.add_row(e.at.strftime("%H:%M:%S"), str(e.attempt), e.from_state.value if e.from_state else "",
                      e.to_state.value, e.code, e.message)  # fmt: skip
    out.print(table)


JobId = Annotated[str, typer.Argument(help="job id (job_…)")]
Reason = Annotated[str, typer.Option("--reason", help="why (the tenant is told it; audited)")]


@job_app.command("cancel")
@command
def cancel(
    job_id: Annotated[str, typer.Argument(help="job id (job_…), or array id (arr_…): all its tasks")],
    reason: Annotated[str | None, typer.Option("--reason", help="why (operators must say; the tenant is told)")] = None,
) -> None:
    """Cancel a job: pending ones at once, running ones get SIGTERM, then SIGKILL after the grace period.
    An array id cancels every unfinished task. Members cancel their own jobs; tenant admins any of
    their org's; operators with --reason."""
    with client() as c:
        if job_id.startswith("arr_"):
            a = c.cancel_array(job_id)
            left = ", ".join(f"{n} {st}" for st, n in sorted(a.counts.items()))
            out.print(f"{a.id}: cancelling its {a.tasks} tasks ({left})")
            return
        job = c.cancel_job(job_id, reason)
    what = "cancelled" if job.state is JobState.CANCELLED else "stopping (grace period, then killed)"
    out.print(f"{job.id}: {what}")


@job_app.command("suspend")
@command
def suspend(job_id: JobId, reason: Reason) -> None:
    """Operators: hold a tenant's job: pending ones at once, running ones are stopped first; it is not
    scheduled nor counted as pending until `brique job resume`."""
    with client() as c:
        job = c.suspend_job(job_id, reason)
    what = "suspended" if job.state is JobState.SUSPENDED else "stopping, then suspended"
    out.print(f"{job.id}: {what}")


@job_app.command("resume")
@command
def resume(
    job_id: JobId, reason: Annotated[str | None, typer.Option("--reason", help="why (audited)")] = None
) -> None:
    """Operators: put a suspended job back in the queue (pending)."""
    with client() as c:
        job = c.resume_job(job_id, reason)
    out.print(f"{job.id}: {job.state.value}")


@job_app.command("logs")
@command
def logs(
    job_id: Annotated[str, typer.Argument(help="job id (job_…)")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="stream until the job ends")] = False,
) -> None:
    """Print a job's output (stdout and stderr)."""
    with client() as c:
        for chunk in c.logs(job_id, follow=follow):
            sys.stdout.write(chunk.decode("utf-8", errors="replace"))
            sys.stdout.flush()


@command
def events(
    job: Annotated[str | None, typer.Option("--job", help="only this job")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Job state changes with their reasons, oldest first."""
    with client() as c:
        found = c.job_events(job) if job else c.events(limit)
    if as_json:
        print_json(found)
        return
    table = Table("at", "job", "from", "to", "code", "message")
    for e in found[-limit:]:
        table.add_row(e.at.strftime("%Y-%m-%d %H:%M:%S"), e.job_id, e.from_state.value if e.from_state else "",
                      e.to_state.value, e.code, e.message)  # fmt: skip
    out.print(table)
