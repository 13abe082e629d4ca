"""`brique deploy FILE`, `brique deployment list|show|scale|delete|key`, `brique serve` (a replica runtime)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from brique.cli.context import client, command, out, print_json
from brique.errors import InvalidInput
from brique.schemas.errors import first_problem
from brique.schemas.inference import DeploymentRequest, DeploymentResponse

deployment_app = typer.Typer(help="Model deployments served at /inference/v1 (OpenAI API).", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _load(path: str) -> DeploymentRequest:
    import yaml

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read file: {exc.strerror or exc}") from exc
    try:
        doc: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path}: not valid YAML or JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise InvalidInput(f"{path}: must be a mapping of deployment fields (name, project, model, runtime, ...)")
    try:
        return DeploymentRequest.model_validate(doc)
    except ValidationError as exc:
        field, rule = first_problem(exc.errors())
        raise InvalidInput(f"{path}: {field}: {rule}") from exc


def _summary(d: DeploymentResponse) -> str:
    running = sum(1 for r in d.replicas if r.state == "running")
    return (f"{d.name} ({d.id}): model {d.model}, runtime {d.runtime}, {d.gpus} GPU(s)/replica, "
            f"replicas {d.min_replicas}..{d.max_replicas}, desired {d.desired_replicas}, running {running}")  # fmt: skip


@command
def deploy(
    file: Annotated[str, typer.Argument(help="deployment file, YAML or JSON ('-' for stdin)")],
    as_json: JsonOpt = False,
) -> None:
    """Deploy a model (or update the deployment of that name); call it at <server>/inference/v1."""
    spec = _load(file)
    with client() as c:
        dep = c.deploy(spec)
        base = c.url
    if as_json:
        print_json(dep)
        return
    out.print(f"deployed {_summary(dep)}", highlight=False)
    out.print(f"call it with base_url={base}/inference/v1 and model='{dep.name}'", highlight=False)


@deployment_app.command("list")
@command
def list_deployments(as_json: JsonOpt = False) -> None:
    """Your organization's deployments."""
    with client() as c:
        found = c.list_deployments()
    if as_json:
        print_json(found)
        return
    table = Table("name", "model", "runtime", "GPUs", "min..max", "desired", "running")
    for d in found:
        running = sum(1 for r in d.replicas if r.state == "running")
        table.add_row(d.name, d.model, d.runtime, str(d.gpus), f"{d.min_replicas}..{d.max_replicas}",
                      str(d.desired_replicas), str(running))  # fmt: skip
    out.print(table)


@deployment_app.command("show")
@command
def show(name: str, as_json: JsonOpt = False) -> None:
    """A deployment and where each replica runs."""
    with client() as c:
        d = c.get_deployment(name)
    if as_json:
        print_json(d)
        return
    out.print(_summary(d), highlight=False)
    for r in d.replicas:
        out.print(f"  {r.job_id}: {r.state} on {r.site_id or '-'} {','.join(r.gpu_ids)}", highlight=False)


@deployment_app.command("scale")
@command
def scale(
    name: str,
    min_replicas: Annotated[int, typer.Option("--min", min=0)],
    max_replicas: Annotated[int, typer.Option("--max", min=1)],
) -> None:
    """Change a deployment's replica bounds (the autoscaler moves within them)."""
    with client() as c:
        d = c.scale_deployment(name, min_replicas, max_replicas)
    out.print(f"scaled {_summary(d)}", highlight=False)


@deployment_app.command("delete")
@command
def delete(name: str) -> None:
    """Delete a deployment; its replicas are stopped."""
    with client() as c:
        d = c.delete_deployment(name)
    out.print(f"deleted {d.name} ({d.id})", highlight=False)


@deployment_app.command("key")
@command
def create_key(
    name: Annotated[str, typer.Argument(help="a label for the key")],
    deployment: Annotated[list[str] | None, typer.Option("--deployment", "-d", help="scope (repeat); none: all")] = None,
    rpm: Annotated[int | None, typer.Option("--rpm", min=1, help="requests per minute")] = None,
    tpm: Annotated[int | None, typer.Option("--tpm", min=1, help="tokens per minute")] = None,
) -> None:
    """Create a gateway key scoped to deployments (printed once)."""
    with client() as c:
        key = c.create_inference_key(name, deployment or [], rpm, tpm)
    out.print(f"{key.id}: {key.token}", highlight=False)


def serve(
    port: Annotated[int, typer.Option(help="port to listen on")],
    model: Annotated[str, typer.Option(help="model name it answers to")] = "echo",
    runtime: Annotated[str, typer.Option(help="echo | embeddings | ngram")] = "echo",
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    token_delay: Annotated[float, typer.Option(help="seconds between streamed words")] = 0.0,
) -> None:
    """Run the model-free OpenAI-compatible replica runtime (tests, demos; vLLM in production)."""
    from brique.agent.serve import main

    main(["--runtime", runtime, "--model", model, "--host", host, "--port", str(port),
          "--token-delay", str(token_delay)])  # fmt: skip
